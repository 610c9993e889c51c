#include "worker/models/mobilenet_v3.h"

namespace moe4::worker {

MobileV3BlockImpl::MobileV3BlockImpl(int in, int expanded, int out, int kernel, int stride, bool se, Activation act)
    : residual_(stride == 1 && in == out) {
  body_ = register_module("body", torch::nn::Sequential());
  if (expanded != in) body_->push_back(ConvBnAct(in, expanded, 1, 1, 1, act));
  body_->push_back(ConvBnAct(expanded, expanded, kernel, stride, expanded, act));
  if (se) {
    body_->push_back(SqueezeExcite(expanded, ScaleChannels(expanded / 4, 1.0), true));
  }
  body_->push_back(ConvBnAct(expanded, out, 1, 1, 1, Activation::kNone));
}

torch::Tensor MobileV3BlockImpl::forward(const torch::Tensor& x) {
  auto y = body_->forward(x);
  return residual_ ? y + x : y;
}

MobileNetV3Impl::MobileNetV3Impl(const ExpertOptions& options) {
  // Reference events: the stem and the four stride-2 blocks.
  DownsamplePlan plan(options.image_size, 5);
  const double w = options.width;
  constexpr Activation RE = Activation::kReLU;
  constexpr Activation HS = Activation::kHardSwish;
  struct Spec {
    int kernel, expanded, out;
    bool se;
    Activation act;
    int stride;
  };
  const Spec kBlocks[] = {
      {3, 16, 16, false, RE, 1},  {3, 64, 24, false, RE, 2},  {3, 72, 24, false, RE, 1},  {5, 72, 40, true, RE, 2},
      {5, 120, 40, true, RE, 1},  {5, 120, 40, true, RE, 1},  {3, 240, 80, false, HS, 2}, {3, 200, 80, false, HS, 1},
      {3, 184, 80, false, HS, 1}, {3, 184, 80, false, HS, 1}, {3, 480, 112, true, HS, 1}, {3, 672, 112, true, HS, 1},
      {5, 672, 160, true, HS, 2}, {5, 960, 160, true, HS, 1}, {5, 960, 160, true, HS, 1},
  };
  features_ = register_module("features", torch::nn::Sequential());
  int in = ScaleChannels(16, w);
  features_->push_back(ConvBnAct(options.in_channels, in, 3, plan.NextStride(), 1, HS));
  for (const auto& b : kBlocks) {
    const int stride = b.stride == 2 ? plan.NextStride() : 1;
    const int out = ScaleChannels(b.out, w);
    features_->push_back(MobileV3Block(in, ScaleChannels(b.expanded, w), out, b.kernel, stride, b.se, b.act));
    in = out;
  }
  const int last_conv = 6 * in;
  features_->push_back(ConvBnAct(in, last_conv, 1, 1, 1, HS));
  const int hidden = ScaleChannels(1280, w);
  hidden_ = register_module("hidden", torch::nn::Linear(last_conv, hidden));
  dropout_ = register_module("dropout", torch::nn::Dropout(0.2));
  classifier_ = register_module("classifier", torch::nn::Linear(hidden, options.num_classes));
  InitWeights(*this);
}

torch::Tensor MobileNetV3Impl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  y = dropout_->forward(torch::hardswish(hidden_->forward(y)));
  return classifier_->forward(y);
}

}  // namespace moe4::worker
