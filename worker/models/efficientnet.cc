#include "worker/models/efficientnet.h"

#include <algorithm>
#include <cmath>

#include "worker/models/layers.h"

namespace moe4::worker {
namespace {

// Per-sample stochastic depth: drops the whole residual branch of a sample.
torch::Tensor DropPath(const torch::Tensor& x, double p, bool training) {
  if (!training || p <= 0) return x;
  const double keep = 1.0 - p;
  auto mask = torch::empty({x.size(0), 1, 1, 1}, x.options()).bernoulli_(keep);
  return x * mask / keep;
}

}  // namespace

double EfficientNetDepthMultiplier(double width) {
  // width = 1.1^phi, depth = 1.2^phi  =>  depth = width^(ln 1.2 / ln 1.1).
  return std::pow(width, std::log(1.2) / std::log(1.1));
}

EffConvBnImpl::EffConvBnImpl(int in, int out, int kernel, int stride, int groups, bool silu) : silu_(silu) {
  conv_ = register_module(
      "conv",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).groups(groups).bias(false)));
  bn_ = register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).eps(1e-3)));
}

torch::Tensor EffConvBnImpl::forward(const torch::Tensor& x) {
  auto y = bn_->forward(conv_->forward(x));
  return silu_ ? torch::silu(y) : y;
}

MBConvImpl::MBConvImpl(int in, int out, int kernel, int stride, int expand_ratio, double drop_path)
    : residual_(stride == 1 && in == out), drop_path_(drop_path) {
  const int expanded = in * expand_ratio;
  if (expand_ratio != 1) expand_ = register_module("expand", EffConvBn(in, expanded, 1, 1, 1, true));
  depthwise_ = register_module("depthwise", EffConvBn(expanded, expanded, kernel, stride, expanded, true));
  const int squeezed = std::max(1, in / 4);
  se_reduce_ = register_module("se_reduce", torch::nn::Conv2d(torch::nn::Conv2dOptions(expanded, squeezed, 1)));
  se_expand_ = register_module("se_expand", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeezed, expanded, 1)));
  project_ = register_module("project", EffConvBn(expanded, out, 1, 1, 1, false));
}

torch::Tensor MBConvImpl::forward(const torch::Tensor& x) {
  auto y = expand_ ? expand_->forward(x) : x;
  y = depthwise_->forward(y);
  auto s = torch::adaptive_avg_pool2d(y, {1, 1});
  y = y * torch::sigmoid(se_expand_->forward(torch::silu(se_reduce_->forward(s))));
  y = project_->forward(y);
  return residual_ ? x + DropPath(y, drop_path_, is_training()) : y;
}

EfficientNetImpl::EfficientNetImpl(const ExpertOptions& options) {
  const double w = options.width;
  const double depth = EfficientNetDepthMultiplier(w);
  struct Stage {
    int expand, kernel, stride, channels, repeats;
  };
  // The B0 table.
  const Stage kStages[] = {{1, 3, 1, 16, 1},  {6, 3, 2, 24, 2},  {6, 5, 2, 40, 2}, {6, 3, 2, 80, 3},
                           {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4}, {6, 3, 1, 320, 1}};
  constexpr double kDropPath = 0.2;  // rises linearly from 0 to this over the blocks
  int total_blocks = 0;
  for (const auto& s : kStages) total_blocks += static_cast<int>(std::ceil(s.repeats * depth));
  // Reference events: the stem and the four stride-2 stages.
  DownsamplePlan plan(options.image_size, 5);
  features_ = register_module("features", torch::nn::Sequential());
  int in = ScaleChannels(32, w);
  features_->push_back(EffConvBn(options.in_channels, in, 3, plan.NextStride(), 1, true));
  int index = 0;
  for (const auto& s : kStages) {
    const int out = ScaleChannels(s.channels, w);
    const int repeats = static_cast<int>(std::ceil(s.repeats * depth));
    for (int r = 0; r < repeats; ++r) {
      const int stride = (r == 0 && s.stride == 2) ? plan.NextStride() : 1;
      features_->push_back(MBConv(in, out, s.kernel, stride, s.expand, kDropPath * index / total_blocks));
      in = out;
      ++index;
    }
  }
  const int head = ScaleChannels(1280, w);
  features_->push_back(EffConvBn(in, head, 1, 1, 1, true));
  dropout_ = register_module("dropout", torch::nn::Dropout(0.2));
  classifier_ = register_module("classifier", torch::nn::Linear(head, options.num_classes));
  InitWeights(*this);
}

torch::Tensor EfficientNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(dropout_->forward(y));
}

}  // namespace moe4::worker
