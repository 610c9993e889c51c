// TrainingCore: the mixture of a job, its optimiser and one training step, as
// every job trains them. TrainerRun (trainer_run.h) drives it over epochs (data,
// metrics, checkpoints, hooks around it); bench/training times the same step
// alone, so the benchmark measures the code that runs jobs, not a copy.
//
// The recipe's optimiser: AdamW in three groups, the experts at lr, the gate
// at gate_lr_scale * lr with half the weight decay, and the temperature alone
// at the gate's rate without decay (decay would drag T towards the clamp).
//
// Memory format: on the CPU the 4-D weights are kept channels-last (NHWC).
// oneDNN's convolutions then run without reordering activations on every
// call; the first convolution turns the NCHW batch into NHWC once and the
// format propagates. Measured with bench/training (docs/performance.md).
// The result is the same network and the same arithmetic up to floating-point
// summation order. On a GPU the weights are channels-last too when the step
// runs in bf16/fp16 (the tensor cores' layout), and cuDNN autotunes its
// convolution algorithms.
//
// Precision (worker/train/precision.h): the recipe's precision, resolved for
// the device, autocasts the forward passes; outputs are cast back to fp32
// before the loss, fp16 steps go through a dynamic loss scaler.
//
// Host synchronisation: on a GPU a step reads nothing back (the finiteness of
// the loss is accumulated on the device, see FirstNonFiniteStep; gradient
// clipping keeps its norm on the device), except fp16's overflow flag. On the
// CPU there is nothing to overlap, and each step checks its loss at once.
//
// Not thread-safe: it owns LibTorch modules and their optimiser state.
#ifndef MOE4_WORKER_TRAIN_TRAINING_CORE_H_
#define MOE4_WORKER_TRAIN_TRAINING_CORE_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>

#include "moe4/v1/moe4.pb.h"
#include "worker/data/batch_stream.h"
#include "worker/models/registry.h"
#include "worker/moe/ensemble.h"
#include "worker/train/losses.h"
#include "worker/train/precision.h"

namespace moe4::worker {

// How the model's 4-D weights are laid out in memory.
enum class WeightLayout {
  kDefault,       // contiguous NCHW, as LibTorch creates them
  kChannelsLast,  // NHWC: faster convolutions on the CPU
  kAuto,          // channels-last on the CPU and for bf16/fp16 on a GPU, default otherwise
};

// What the images look like: channels x image_size^2, `classes` classes, and
// how many training images there are (weights the experts' auxiliary loss,
// the Bayes-by-backprop ELBO weighting of auxiliary_loss.h).
struct DataShape {
  int channels = 3;
  int image_size = 32;
  int classes = 10;
  int64_t train_images = 1;
};

class TrainingCore {
 public:
  // Builds the mixture for `job` (families, width, gate from its recipe),
  // seeded from the recipe's seed, on `device`, and its optimiser. Throws
  // std::invalid_argument when the recipe's precision cannot run on `device`.
  TrainingCore(const FamilyRegistry& registry, const moe4::v1::JobAssignment& job, const DataShape& shape,
               torch::Device device, WeightLayout layout = WeightLayout::kAuto);

  MixtureOfExperts& model() { return model_; }
  torch::optim::AdamW& optimizer() { return *optimizer_; }
  bool channels_last() const { return channels_last_; }
  Precision precision() const { return precision_; }
  // Whether Step reads each loss back at once (the CPU) or accumulates its
  // finiteness on the device (a GPU).
  bool checks_every_step() const { return check_every_step_; }
  // Overrides that choice: tests run the GPU's deferred check on the CPU.
  void set_checks_every_step(bool every_step) { check_every_step_ = every_step; }

  // The experts' learning rate; the gate's groups get gate_lr_scale times it.
  void SetLearningRate(double lr);

  struct StepResult {
    MoEOutput out;
    LossParts loss;          // loss.total includes the auxiliary term
    double loss_value = 0;   // loss.total as a number; only when checks_every_step()
    bool finite = true;      // false: nothing was updated (see Step)
    bool skipped = false;    // fp16: a gradient overflowed, the loss scale
                             // was halved and the optimiser did not step
  };
  // One optimiser step in training mode: zero_grad, forward, the recipe's loss
  // plus the experts' auxiliary loss / train_images, then backward, gradient
  // clipping, AdamW and the temperature clamp. A non-finite loss is returned
  // with finite = false before anything is updated: the caller fails the job.
  // Without checks_every_step() a non-finite loss is not seen here: the step
  // goes on, and FirstNonFiniteStep() reports it.
  StepResult Step(const Batch& batch);

  // The 0-based index (counting every Step of this object) of the first
  // step whose loss was not finite, or -1. Reads one number from the device:
  // call it once per epoch, not per step.
  int64_t FirstNonFiniteStep() const;
  // fp16: steps skipped for an overflowing gradient; 0 otherwise.
  int64_t SkippedSteps() const { return scaler_ ? scaler_->skipped_steps() : 0; }

  // Eval mode, no grad: the mixture's output on `images`.
  MoEOutput Evaluate(const torch::Tensor& images);

 private:
  moe4::v1::Recipe recipe_;
  int64_t train_images_;
  torch::Device device_;
  Precision precision_ = Precision::kFp32;
  bool check_every_step_ = true;
  bool channels_last_ = false;
  int64_t steps_ = 0;
  torch::Tensor first_nonfinite_step_;  // int64 scalar on the device, -1 = none
  std::unique_ptr<LossScaler> scaler_;   // fp16 only
  MixtureOfExperts model_{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_TRAINING_CORE_H_
