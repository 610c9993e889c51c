#include "worker/models/lemur/mobilenet_v2.h"

#include <cmath>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

constexpr double kMobilenetV2Dropout = 0.2;  // LEMUR's prm['dropout'] in the measured configuration
constexpr int kRoundNearest = 8;  // torchvision rounds every width to a multiple of 8

// torchvision's Conv2dNormActivation with BatchNorm2d and ReLU6: "same"
// padding, no conv bias (a BN follows).
void AppendConvBnRelu6(torch::nn::Sequential& seq, int in, int out, int kernel, int stride, int groups) {
  seq->push_back(torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding((kernel - 1) / 2).groups(groups).bias(false)));
  seq->push_back(torch::nn::BatchNorm2d(out));
  seq->push_back(torch::nn::ReLU6(torch::nn::ReLU6Options().inplace(true)));
}

}  // namespace

MobileNetV2BlockImpl::MobileNetV2BlockImpl(int in, int out, int stride, int expand_ratio, bool residual)
    : residual_(residual) {
  const int hidden = static_cast<int>(std::lround(in * expand_ratio));
  conv_ = register_module("conv", torch::nn::Sequential());
  if (expand_ratio != 1) AppendConvBnRelu6(conv_, in, hidden, 1, 1, 1);
  AppendConvBnRelu6(conv_, hidden, hidden, 3, stride, hidden);
  conv_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, out, 1).bias(false)));
  conv_->push_back(torch::nn::BatchNorm2d(out));
}

torch::Tensor MobileNetV2BlockImpl::forward(const torch::Tensor& x) {
  return residual_ ? x + conv_->forward(x) : conv_->forward(x);
}

MobileNetV2Impl::MobileNetV2Impl(const ExpertOptions& options) {
  const double w = options.width;
  constexpr int kStem = 32;
  constexpr int kLast = 1280;
  // {expand ratio t, channels c, repeats n, first stride s}.
  constexpr int kSetting[][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                 {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  features_ = register_module("features", torch::nn::Sequential());
  AppendConvBnRelu6(features_, options.in_channels, Scaled(kStem, w, kRoundNearest), 3, 2, 1);
  int in = kStem;  // reference widths decide the structure, so it is the same at every width
  for (const auto& [t, c, n, s] : kSetting) {
    for (int i = 0; i < n; ++i) {
      const int stride = i == 0 ? s : 1;
      features_->push_back(MobileNetV2Block(Scaled(in, w, kRoundNearest), Scaled(c, w, kRoundNearest), stride, t,
                                            stride == 1 && in == c));
      in = c;
    }
  }
  const int last = Scaled(kLast, w, kRoundNearest);
  AppendConvBnRelu6(features_, Scaled(in, w, kRoundNearest), last, 1, 1, 1);
  classifier_ = register_module(
      "classifier", torch::nn::Sequential(torch::nn::Dropout(kMobilenetV2Dropout), torch::nn::Linear(last, options.num_classes)));

  // LEMUR's explicit init.
  torch::NoGradGuard no_grad;
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut);
    } else if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    } else if (auto* linear = m->as<torch::nn::LinearImpl>()) {
      torch::nn::init::normal_(linear->weight, 0.0, 0.01);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor MobileNetV2Impl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(y);
}

}  // namespace moe4::worker::lemur
