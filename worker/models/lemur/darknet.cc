#include "worker/models/lemur/darknet.h"

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

constexpr double kAlpha = 0.1;  // LeakyReLU slope

}  // namespace

DarkNetUnitImpl::DarkNetUnitImpl(int in, int out, bool pointwise) {
  const int kernel = pointwise ? 1 : 3;
  conv_ = register_module(
      "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2).bias(false)));
  bn_ = register_module("bn", torch::nn::BatchNorm2d(out));
}

torch::Tensor DarkNetUnitImpl::forward(const torch::Tensor& x) {
  return torch::leaky_relu(bn_->forward(conv_->forward(x)), kAlpha);
}

DarkNetImpl::DarkNetImpl(const ExpertOptions& options) {
  const double w = options.width;
  constexpr int kUnitsPerStage = 3;
  const int kStages[] = {64, 128, 256, 512};
  features_ = register_module("features", torch::nn::Sequential());
  int in = options.in_channels;
  for (int i = 0; i < 4; ++i) {
    const int out = Scaled(kStages[i], w);
    for (int j = 0; j < kUnitsPerStage; ++j) {
      // LEMUR (odd_pointwise = True): units 1 and 3 of a stage are 1x1.
      const bool pointwise = (j + 1) % 2 == 1;
      features_->push_back(DarkNetUnit(in, out, pointwise));
      in = out;
    }
    if (i != 3) features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
  }
  output_ = register_module("output", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, options.num_classes, 1)));

  // LEMUR's _initialize_weights.
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_uniform_(conv->weight, 0.0, torch::kFanIn, torch::kLeakyReLU);
      if (conv->bias.defined()) conv->bias.zero_();
    }
  }
}

torch::Tensor DarkNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::leaky_relu(output_->forward(features_->forward(x)), kAlpha);
  return torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
}

}  // namespace moe4::worker::lemur
