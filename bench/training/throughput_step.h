// The worker's training and evaluation steps, for throughput_bench.
//
// Trainer (worker/train/trainer.cc) exposes only Run(), a whole job with its
// data. To time the step alone on an in-memory batch, StepRunner builds the
// mixture and its three-group AdamW exactly as Trainer::RunOrThrow does and
// runs the body of its batch loop: LrSchedule::At, zero_grad,
// MixtureOfExperts::forward, ComputeLoss (mixup + label smoothing + load
// balance, plus the experts' auxiliary loss), the NaN check's .item(),
// backward, clip_grad_norm_, AdamW::step and Gate::ClampTemperature. Nothing
// is re-implemented: only the sequence is copied, so if the trainer's loop
// changes this file must follow (a shared single-step function in worker/train/
// would remove the copy; see the bench's report). Evaluation is the trainer's
// eval loop body: eval mode, no grad, forward, EvalAccumulator::Add.
// Not thread-safe (it owns LibTorch modules).
#ifndef MOE4_BENCH_TRAINING_THROUGHPUT_STEP_H_
#define MOE4_BENCH_TRAINING_THROUGHPUT_STEP_H_

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "moe4/v1/moe4.pb.h"
#include "worker/data/batch_stream.h"
#include "worker/models/registry.h"
#include "worker/moe/ensemble.h"
#include "worker/train/metrics.h"
#include "worker/train/schedule.h"

namespace moe4::worker::bench {

// The benchmark's job: `families` at `width`, the design's recipe with
// `batch_size` and `epochs`, dataset named "cifar10" so that the trainer picks
// CIFAR's augmentation (random crop with padding 4, horizontal flip) for the
// in-memory images the bench hands it.
moe4::v1::JobAssignment ThroughputJob(const std::vector<std::string>& families, double width, int64_t batch_size,
                                      int epochs);

// The mixture exactly as Trainer::RunOrThrow builds it for `job` on images of
// `channels` x `image_size`^2 with `classes` classes.
MixtureOfExperts BuildMixture(const FamilyRegistry& registry, const moe4::v1::JobAssignment& job, int channels,
                              int image_size, int classes);

class StepRunner {
 public:
  // `train_images` weights the experts' auxiliary (KL) loss, as the trainer does.
  StepRunner(MixtureOfExperts model, const moe4::v1::Recipe& recipe, int64_t train_images);

  // One optimiser step at fractional epoch `progress`; returns the loss.
  // Throws std::runtime_error on a non-finite loss, as the trainer fails the job.
  double TrainStep(const Batch& batch, double progress);

  // One evaluation batch (eval mode, no grad) into `accumulator`.
  void EvalStep(const Batch& batch, EvalAccumulator* accumulator);

  MixtureOfExperts& model() { return model_; }

 private:
  moe4::v1::Recipe recipe_;
  MixtureOfExperts model_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  LrSchedule schedule_;
  int64_t train_images_;
};

}  // namespace moe4::worker::bench

#endif  // MOE4_BENCH_TRAINING_THROUGHPUT_STEP_H_
