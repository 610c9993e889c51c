#include "worker/train/schedule.h"

#include <algorithm>
#include <cmath>

namespace moe4::worker {

LrSchedule::LrSchedule(const moe4::v1::Recipe& r)
    : LrSchedule(r.lr(), r.warmup_epochs(), r.warmup_start_factor(), r.min_lr(), r.epochs()) {}

LrSchedule::LrSchedule(double lr, int warmup_epochs, double warmup_start_factor, double min_lr, int epochs)
    : lr_(lr), warmup_epochs_(warmup_epochs), start_factor_(warmup_start_factor), min_lr_(min_lr), epochs_(epochs) {}

double LrSchedule::At(double t) const {
  if (warmup_epochs_ > 0 && t < warmup_epochs_) {
    return lr_ * (start_factor_ + (1.0 - start_factor_) * t / warmup_epochs_);
  }
  if (epochs_ <= warmup_epochs_) return lr_;
  const double p = std::clamp((t - warmup_epochs_) / (epochs_ - warmup_epochs_), 0.0, 1.0);
  return min_lr_ + (lr_ - min_lr_) * 0.5 * (1.0 + std::cos(M_PI * p));
}

}  // namespace moe4::worker
