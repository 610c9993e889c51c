// The learning-rate schedule: linear warm-up from warmup_start_factor * lr to
// lr over warmup_epochs, then a cosine from lr down to min_lr at the last
// epoch. Evaluated per optimiser step at fractional epoch progress
// t = epoch_index + step / steps_per_epoch, so it is a pure function of the
// global step (its whole "state" for checkpoints). Immutable; thread-safe.
#ifndef MOE4_WORKER_TRAIN_SCHEDULE_H_
#define MOE4_WORKER_TRAIN_SCHEDULE_H_

#include "moe4/v1/moe4.pb.h"

namespace moe4::worker {

class LrSchedule {
 public:
  explicit LrSchedule(const moe4::v1::Recipe& recipe);
  LrSchedule(double lr, int warmup_epochs, double warmup_start_factor, double min_lr, int epochs);

  // Expert learning rate at progress `t` in epochs, t in [0, epochs]. When
  // warm-up is at least as long as training, the cosine never starts.
  double At(double t) const;

 private:
  double lr_;
  int warmup_epochs_;
  double start_factor_;
  double min_lr_;
  int epochs_;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_SCHEDULE_H_
