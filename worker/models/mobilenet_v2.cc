#include "worker/models/mobilenet_v2.h"

#include <algorithm>

namespace moe4::worker {

MobileV2BlockImpl::MobileV2BlockImpl(int in, int out, int stride, int expansion)
    : residual_(stride == 1 && in == out) {
  const int hidden = in * expansion;
  body_ = register_module("body", torch::nn::Sequential());
  if (expansion != 1) body_->push_back(ConvBnAct(in, hidden, 1, 1, 1, Activation::kReLU6));
  body_->push_back(ConvBnAct(hidden, hidden, 3, stride, hidden, Activation::kReLU6));
  body_->push_back(ConvBnAct(hidden, out, 1, 1, 1, Activation::kNone));  // linear bottleneck
}

torch::Tensor MobileV2BlockImpl::forward(const torch::Tensor& x) {
  auto y = body_->forward(x);
  return residual_ ? x + y : y;
}

MobileNetV2Impl::MobileNetV2Impl(const ExpertOptions& options) {
  struct Row {
    int t, c, n, s;
  };
  static constexpr Row kTable[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                   {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  // Reference events: the stem and the four s = 2 rows.
  DownsamplePlan plan(options.image_size, 5);
  const double w = options.width;
  features_ = register_module("features", torch::nn::Sequential());
  int in = ScaleChannels(32, w);
  features_->push_back(ConvBnAct(options.in_channels, in, 3, plan.NextStride(), 1, Activation::kReLU6));
  for (const auto& row : kTable) {
    const int out = ScaleChannels(row.c, w);
    for (int i = 0; i < row.n; ++i) {
      const int stride = (i == 0 && row.s == 2) ? plan.NextStride() : 1;
      features_->push_back(MobileV2Block(in, out, stride, row.t));
      in = out;
    }
  }
  const int last = ScaleChannels(1280, std::max(1.0, w));
  features_->push_back(ConvBnAct(in, last, 1, 1, 1, Activation::kReLU6));
  dropout_ = register_module("dropout", torch::nn::Dropout(0.2));
  classifier_ = register_module("classifier", torch::nn::Linear(last, options.num_classes));
  InitWeights(*this);
}

torch::Tensor MobileNetV2Impl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(dropout_->forward(y));
}

}  // namespace moe4::worker
