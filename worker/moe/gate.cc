#include "worker/moe/gate.h"

#include <algorithm>

namespace moe4::worker {
namespace {

torch::nn::Conv2d Conv3x3s2(int in, int out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(2).padding(1).bias(false));
}

}  // namespace

GateImpl::GateImpl(const GateOptions& options) : options_(options) {
  features_ =
      register_module("features", torch::nn::Sequential(Conv3x3s2(options.in_channels, 64), torch::nn::BatchNorm2d(64),
                                                        torch::nn::ReLU(true), Conv3x3s2(64, 128),
                                                        torch::nn::BatchNorm2d(128), torch::nn::ReLU(true)));
  fc1_ = register_module("fc1", torch::nn::Linear(128, 64));
  dropout_ = register_module("dropout", torch::nn::Dropout(0.1));
  fc2_ = register_module("fc2", torch::nn::Linear(64, options.num_experts));
  const double t0 = std::clamp(options.temperature, kMinTemperature, kMaxTemperature);
  temperature_ = register_parameter("temperature", torch::full({1}, t0));
}

torch::Tensor GateImpl::temperature() const { return temperature_.clamp(kMinTemperature, kMaxTemperature); }

void GateImpl::ClampTemperature() {
  torch::NoGradGuard no_grad;
  temperature_.clamp_(kMinTemperature, kMaxTemperature);
}

GateOutput GateImpl::forward(const torch::Tensor& x) {
  auto h = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  auto logits = fc2_->forward(dropout_->forward(torch::relu(fc1_->forward(h))));
  logits = logits / temperature();
  if (is_training() && options_.noise_std > 0) {
    logits = logits + options_.noise_std * torch::randn_like(logits);
  }
  GateOutput out;
  out.log_probs = torch::log_softmax(logits, 1);
  out.probs = out.log_probs.exp();
  out.weights = TopKRenormalise(out.probs, options_.top_k);
  return out;
}

torch::Tensor TopKRenormalise(const torch::Tensor& probs, int k) {
  const int64_t experts = probs.size(1);
  if (k <= 0 || k >= experts) return probs;
  auto top = std::get<1>(probs.topk(k, 1));
  auto mask = torch::zeros_like(probs).scatter_(1, top, 1.0);
  auto kept = probs * mask;
  return kept / kept.sum(1, true).clamp_min(1e-12);
}

}  // namespace moe4::worker
