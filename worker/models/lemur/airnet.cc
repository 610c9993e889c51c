#include "worker/models/lemur/airnet.h"

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

// Every conv of LEMUR's file but the projection keeps PyTorch's default bias.
torch::nn::Conv2d Conv3x3(int in, int out, int stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

}  // namespace

AirUnitImpl::AirUnitImpl(int in, int out, int stride, bool project) {
  conv1_ = register_module("conv1", Conv3x3(in, out, stride));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(out));
  conv2_ = register_module("conv2", Conv3x3(out, out, 1));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(out));
  if (project) {
    shortcut_conv_ = register_module(
        "shortcut_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
    shortcut_bn_ = register_module("shortcut_bn", torch::nn::BatchNorm2d(out));
  }
}

torch::Tensor AirUnitImpl::forward(const torch::Tensor& x) {
  const auto residual = shortcut_conv_ ? shortcut_bn_->forward(shortcut_conv_->forward(x)) : x;
  auto y = torch::relu(bn1_->forward(conv1_->forward(x)));
  y = bn2_->forward(conv2_->forward(y));
  return torch::relu(y + residual);
}

AirNetImpl::AirNetImpl(const ExpertOptions& options) {
  const double w = options.width;
  constexpr int kStem = 64;
  const int kStages[] = {64, 128, 256, 512};
  stem_conv_ = register_module("stem_conv", Conv3x3(options.in_channels, Scaled(kStem, w), 2));
  stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(Scaled(kStem, w)));
  units_ = register_module("units", torch::nn::Sequential());
  int in = kStem;  // reference widths decide the structure, so it is the same at every width
  for (int i = 0; i < 4; ++i) {
    const int out = kStages[i];
    const int stride = i == 0 ? 1 : 2;
    units_->push_back(AirUnit(Scaled(in, w), Scaled(out, w), stride, stride != 1 || in != out));
    in = out;
  }
  classifier_ = register_module("classifier", torch::nn::Linear(Scaled(in, w), options.num_classes));
}

torch::Tensor AirNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(stem_bn_->forward(stem_conv_->forward(x)));
  y = units_->forward(y);
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  return classifier_->forward(y);
}

}  // namespace moe4::worker::lemur
