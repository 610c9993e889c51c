// The worker's training and evaluation steps, for throughput_bench.
//
// Trainer (worker/train/trainer.cc) exposes only Run(), a whole job with its
// data. To time the step alone on an in-memory batch, StepRunner drives the
// trainer's own TrainingCore (worker/train/training_core.h): the same
// mixture, optimiser and step the trainer runs, with the trainer's learning
// rate schedule. Nothing of the step is copied here.
// Not thread-safe (it owns LibTorch modules).
#ifndef MOE4_BENCH_TRAINING_THROUGHPUT_STEP_H_
#define MOE4_BENCH_TRAINING_THROUGHPUT_STEP_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/catalogue_kind.h"
#include "moe4/v1/moe4.pb.h"
#include "worker/data/batch_stream.h"
#include "worker/models/registry.h"
#include "worker/moe/ensemble.h"
#include "worker/train/metrics.h"
#include "worker/train/schedule.h"
#include "worker/train/training_core.h"

namespace moe4::worker::bench {

// The benchmark's job: `families` of `catalogue` at `width`, the design's
// recipe with `batch_size` and `epochs`, dataset named "cifar10" so that the
// trainer picks CIFAR's augmentation (random crop with padding 4, horizontal
// flip) for the in-memory CIFAR-sized (32x32) images the bench hands it, and
// dataset.resize = `image_size` when that is not 32 (what a campaign sets to
// give LEMUR's networks the inputs they need: the worker resizes each batch),
// and recipe.precision = `precision` (what TrainingCore resolves per device).
moe4::v1::JobAssignment ThroughputJob(const std::vector<std::string>& families, double width, int64_t batch_size,
                                      int epochs, Catalogue catalogue = Catalogue::kAdapted, int image_size = 32,
                                      moe4::v1::Precision precision = moe4::v1::PRECISION_FP32);

// The shape of the bench's images: `image_size` square (after any resize),
// `train_images` in an epoch.
DataShape ThroughputShape(int channels, int image_size, int classes, int64_t train_images);

// On a GPU the step reads nothing back (training_core.h): TrainStep returns 0
// and a non-finite loss shows in CheckFinite(), which the bench calls after
// its timed steps; Synchronize() waits for the device's queued work, for
// reading clocks.
class StepRunner {
 public:
  StepRunner(const FamilyRegistry& registry, const moe4::v1::JobAssignment& job, const DataShape& shape,
             WeightLayout layout = WeightLayout::kAuto, torch::Device device = torch::kCPU);

  // One optimiser step at fractional epoch `progress`; returns the loss (0
  // where the core does not read it back per step, i.e. on a GPU).
  // Throws std::runtime_error on a non-finite loss, as the trainer fails the job.
  double TrainStep(const Batch& batch, double progress);

  // Throws std::runtime_error if any step so far had a non-finite loss
  // (reads one number from the device).
  void CheckFinite() const;
  // Waits for the device (a no-op on the CPU).
  void Synchronize() const;

  // One evaluation batch (eval mode, no grad) into `accumulator`.
  void EvalStep(const Batch& batch, EvalAccumulator* accumulator);

  MixtureOfExperts& model() { return core_.model(); }
  torch::optim::AdamW& optimizer() { return core_.optimizer(); }
  bool channels_last() const { return core_.channels_last(); }
  Precision precision() const { return core_.precision(); }
  int64_t skipped_steps() const { return core_.SkippedSteps(); }
  const torch::Device& device() const { return device_; }

 private:
  torch::Device device_;
  TrainingCore core_;
  LrSchedule schedule_;
};

}  // namespace moe4::worker::bench

#endif  // MOE4_BENCH_TRAINING_THROUGHPUT_STEP_H_
