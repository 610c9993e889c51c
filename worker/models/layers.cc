#include "worker/models/layers.h"

#include <algorithm>
#include <cmath>

namespace moe4::worker {

int ScaleChannels(int reference, double width, int divisor, int minimum) {
  const double scaled = reference * width;
  int rounded = std::max(minimum, static_cast<int>(scaled + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * scaled) rounded += divisor;
  return rounded;
}

DownsamplePlan::DownsamplePlan(int image_size, int reference_events) : size_(image_size) {
  // allowed = floor(log2(image_size / 2)): the largest n with 2^(n+1) <= size.
  int allowed = 0;
  while ((4 << allowed) <= image_size) ++allowed;
  to_skip_ = std::max(0, reference_events - allowed);
}

bool DownsamplePlan::Next() {
  if (to_skip_ > 0) {
    --to_skip_;
    return false;
  }
  size_ = (size_ + 1) / 2;
  return true;
}

torch::Tensor Activate(const torch::Tensor& x, Activation act) {
  switch (act) {
    case Activation::kNone:
      return x;
    case Activation::kReLU:
      return torch::relu(x);
    case Activation::kReLU6:
      return torch::clamp(x, 0.0, 6.0);
    case Activation::kHardSwish:
      return torch::hardswish(x);
    case Activation::kLeakyReLU:
      return torch::leaky_relu(x, 0.1);
  }
  return x;
}

ConvBnActImpl::ConvBnActImpl(int in, int out, int kernel, int stride, int groups, Activation act) : act_(act) {
  conv_ = register_module(
      "conv",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).groups(groups).bias(false)));
  bn_ = register_module("bn", torch::nn::BatchNorm2d(out));
}

torch::Tensor ConvBnActImpl::forward(const torch::Tensor& x) { return Activate(bn_->forward(conv_->forward(x)), act_); }

SqueezeExciteImpl::SqueezeExciteImpl(int channels, int squeezed, bool hard_sigmoid) : hard_sigmoid_(hard_sigmoid) {
  reduce_ = register_module("reduce", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, squeezed, 1)));
  expand_ = register_module("expand", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeezed, channels, 1)));
}

torch::Tensor SqueezeExciteImpl::forward(const torch::Tensor& x) {
  auto s = torch::adaptive_avg_pool2d(x, {1, 1});
  s = expand_->forward(torch::relu(reduce_->forward(s)));
  s = hard_sigmoid_ ? torch::hardsigmoid(s) : torch::sigmoid(s);
  return x * s;
}

void InitWeights(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      if (bn->weight.defined()) bn->weight.fill_(1.0);
      if (bn->bias.defined()) bn->bias.zero_();
    }
  }
}

}  // namespace moe4::worker
