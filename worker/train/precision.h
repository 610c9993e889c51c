// Mixed precision for the training step: which arithmetic a job runs in
// (ResolvePrecision), a scope that turns LibTorch's autocast on for the
// forward passes inside it (AutocastScope), and the dynamic loss scaler that
// fp16 needs (LossScaler).
//
// Why a scaler of our own: LibTorch's C++ API has autocast but no
// GradScaler. LossScaler follows torch.amp.GradScaler's published rules
// (initial scale 2^16, halve on an overflow and skip that step, double after
// 2,000 clean steps) with plain tensor ops, so it runs on the CPU in tests.
//
// Master weights, gradients and the optimiser state stay fp32 in every
// precision; only the operations autocast lists (convolutions, matrix
// products) run in bf16/fp16, and softmax, losses and reductions in fp32.
//
// AutocastScope changes LibTorch's thread-local autocast state: use it on the
// thread that runs the forward pass. LossScaler is not thread-safe.
#ifndef MOE4_WORKER_TRAIN_PRECISION_H_
#define MOE4_WORKER_TRAIN_PRECISION_H_

#include <torch/torch.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::worker {

enum class Precision { kFp32, kBf16, kFp16 };

std::string_view PrecisionName(Precision precision);  // "fp32" | "bf16" | "fp16"

// What `requested` means on `device`:
//   AUTO         bf16 on a GPU of compute capability 8.0 or newer (Ampere:
//                RTX 30xx and later), fp16 on an older GPU, fp32 on the CPU
//                (bf16 on a CPU without AMX is slower than fp32, and fp32 is
//                what the published recipe trained in).
//   UNSPECIFIED  fp32: a campaign stored before the field existed.
//   BF16         bf16 on the CPU or a GPU of capability 8.0+; a clear error
//                on an older GPU, which would emulate it slowly.
//   FP16         fp16 with loss scaling on a GPU; an error on the CPU.
absl::StatusOr<Precision> ResolvePrecision(moe4::v1::Precision requested, const torch::Device& device);

// While alive, the forward passes this thread runs on `device` autocast to
// `precision` (nothing for kFp32). Restores the previous state and clears
// autocast's weight-cast cache when it ends, as Python's `with autocast()`.
class AutocastScope {
 public:
  AutocastScope(const torch::Device& device, Precision precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  torch::DeviceType device_type_ = torch::kCPU;
  bool was_enabled_ = false;
  torch::ScalarType previous_dtype_ = torch::kFloat;
};

// Dynamic loss scaling for fp16: Backward() scales the loss, Unscale()
// divides the gradients back and looks for inf/NaN, Update() adapts the scale
// and says whether the optimiser may step. Reading the overflow flag is one
// host synchronisation per step, as in PyTorch's GradScaler.
class LossScaler {
 public:
  struct Options {
    double initial_scale = 65536.0;  // 2^16
    double growth_factor = 2.0;
    double backoff_factor = 0.5;
    int64_t growth_interval = 2000;  // clean steps before the scale grows
  };
  LossScaler(const torch::Device& device, Options options);
  explicit LossScaler(const torch::Device& device) : LossScaler(device, Options{}) {}

  // loss * scale, then backward.
  void Backward(const torch::Tensor& loss);
  // Divides every gradient by the scale (before clipping) and records
  // whether any is not finite.
  void Unscale(const std::vector<torch::Tensor>& parameters);
  // After Unscale: false (skip the optimiser step) when a gradient overflowed;
  // adapts the scale either way.
  bool Update();

  double scale() const;
  int64_t skipped_steps() const { return skipped_steps_; }

 private:
  Options options_;
  torch::Tensor scale_;       // float scalar on the device
  torch::Tensor found_inf_;   // float scalar on the device: 1 when this step overflowed
  int64_t clean_steps_ = 0;
  int64_t skipped_steps_ = 0;
};

// Scales the gradients of `parameters` so that their joint L2 norm is at most
// `max_norm`, as torch::nn::utils::clip_grad_norm_ does, without reading the
// norm back to the host (LibTorch's version returns it as a double: one
// synchronisation per step on a GPU).
void ClipGradNormOnDevice(const std::vector<torch::Tensor>& parameters, double max_norm);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_PRECISION_H_
