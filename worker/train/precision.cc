#include "worker/train/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <string>

#include "absl/status/status.h"
#include "worker/train/device.h"

// LibTorch 2.4 replaced the per-backend autocast functions (set_cpu_enabled,
// set_autocast_gpu_dtype, ...) by ones taking the device type, and keeps the
// old names only as deprecated wrappers.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define MOE4_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace moe4::worker {
namespace {

// Ampere (8.0) is the first architecture with bf16 tensor cores.
constexpr int kFirstBf16Capability = 80;

bool AutocastEnabled(torch::DeviceType type) {
#ifdef MOE4_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(type);
#else
  return type == torch::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void SetAutocastEnabled(torch::DeviceType type, bool enabled) {
#ifdef MOE4_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(type, enabled);
#else
  if (type == torch::kCUDA) {
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

torch::ScalarType AutocastDtype(torch::DeviceType type) {
#ifdef MOE4_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(type);
#else
  return type == torch::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

void SetAutocastDtype(torch::DeviceType type, torch::ScalarType dtype) {
#ifdef MOE4_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_dtype(type, dtype);
#else
  if (type == torch::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

}  // namespace

std::string_view PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kFp32: return "fp32";
    case Precision::kBf16: return "bf16";
    case Precision::kFp16: return "fp16";
  }
  return "fp32";
}

absl::StatusOr<Precision> ResolvePrecision(moe4::v1::Precision requested, const torch::Device& device) {
  const int capability = device.is_cuda() ? CudaComputeCapability(device) : 0;
  const bool gpu_has_bf16 = capability >= kFirstBf16Capability;
  switch (requested) {
    case moe4::v1::PRECISION_UNSPECIFIED:
    case moe4::v1::PRECISION_FP32:
      return Precision::kFp32;
    case moe4::v1::PRECISION_AUTO:
      if (!device.is_cuda()) return Precision::kFp32;
      return gpu_has_bf16 ? Precision::kBf16 : Precision::kFp16;
    case moe4::v1::PRECISION_BF16:
      if (device.is_cuda() && !gpu_has_bf16) {
        return absl::InvalidArgumentError("recipe.precision: bf16 needs a GPU of compute capability 8.0 or newer (this one is " +
                                          std::to_string(capability / 10) + "." + std::to_string(capability % 10) +
                                          "); use fp16 or auto");
      }
      return Precision::kBf16;
    case moe4::v1::PRECISION_FP16:
      if (!device.is_cuda()) {
        return absl::InvalidArgumentError("recipe.precision: fp16 runs only on a GPU (on the CPU use bf16 or fp32)");
      }
      return Precision::kFp16;
    default:
      return absl::InvalidArgumentError("recipe.precision: unknown value " + std::to_string(requested));
  }
}

AutocastScope::AutocastScope(const torch::Device& device, Precision precision) {
  if (precision == Precision::kFp32) return;
  active_ = true;
  device_type_ = device.type();
  was_enabled_ = AutocastEnabled(device_type_);
  previous_dtype_ = AutocastDtype(device_type_);
  SetAutocastDtype(device_type_, precision == Precision::kBf16 ? torch::kBFloat16 : torch::kHalf);
  SetAutocastEnabled(device_type_, true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // Autocast caches the low-precision copies of the weights while any scope
  // is open; the outermost scope drops them, or the next step would use the
  // weights from before this step's update.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetAutocastEnabled(device_type_, was_enabled_);
  SetAutocastDtype(device_type_, previous_dtype_);
}

LossScaler::LossScaler(const torch::Device& device, Options options) : options_(options) {
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat).device(device);
  scale_ = torch::full({}, options_.initial_scale, f32);
  found_inf_ = torch::zeros({}, f32);
}

void LossScaler::Backward(const torch::Tensor& loss) { (loss.to(torch::kFloat) * scale_).backward(); }

void LossScaler::Unscale(const std::vector<torch::Tensor>& parameters) {
  torch::NoGradGuard no_grad;
  const torch::Tensor inverse = scale_.reciprocal();
  found_inf_.zero_();
  for (const auto& p : parameters) {
    torch::Tensor g = p.grad();
    if (!g.defined()) continue;
    g.mul_(inverse);
    // Sums are inf/NaN exactly when an element is (or they overflow, which
    // at this scale also means the step is unusable).
    found_inf_ = torch::maximum(found_inf_, (~torch::isfinite(g.sum())).to(torch::kFloat));
  }
}

bool LossScaler::Update() {
  const bool overflow = found_inf_.item<float>() > 0;  // the one synchronisation
  if (overflow) {
    scale_.mul_(options_.backoff_factor);
    clean_steps_ = 0;
    ++skipped_steps_;
    return false;
  }
  if (++clean_steps_ >= options_.growth_interval) {
    scale_.mul_(options_.growth_factor);
    clean_steps_ = 0;
  }
  return true;
}

double LossScaler::scale() const { return scale_.item<double>(); }

void ClipGradNormOnDevice(const std::vector<torch::Tensor>& parameters, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return;
  const torch::Tensor total = torch::stack(torch::_foreach_norm(grads, 2)).to(torch::kFloat).norm(2);
  // The same coefficient as LibTorch's clip_grad_norm_, kept on the device:
  // min(1, max_norm / (norm + 1e-6)) multiplies every gradient.
  const torch::Tensor coefficient = torch::clamp_max(max_norm / (total + 1e-6), 1.0);
  for (auto& g : grads) g.mul_(coefficient.to(g.dtype()));
}

}  // namespace moe4::worker
