#include "worker/models/dpn.h"

#include <algorithm>
#include <cmath>

#include "worker/models/layers.h"

namespace moe4::worker {
namespace {

constexpr double kBnEps = 1e-3;  // as in the reference implementation

}  // namespace

BnReluConvImpl::BnReluConvImpl(int in, int out, int kernel, int stride, int groups) {
  bn_ = register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(in).eps(kBnEps)));
  conv_ = register_module(
      "conv",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).groups(groups).bias(false)));
}

torch::Tensor BnReluConvImpl::forward(const torch::Tensor& x) { return conv_->forward(torch::relu(bn_->forward(x))); }

DualPathBlockImpl::DualPathBlockImpl(int in, int bottleneck, int bw, int inc, int groups, bool project, int stride)
    : bw_(bw) {
  if (project) projection_ = register_module("projection", BnReluConv(in, bw + 2 * inc, 1, stride));
  reduce_ = register_module("reduce", BnReluConv(in, bottleneck, 1));
  grouped_ = register_module("grouped", BnReluConv(bottleneck, bottleneck, 3, stride, groups));
  expand_ = register_module("expand", BnReluConv(bottleneck, bw + inc, 1));
}

std::pair<torch::Tensor, torch::Tensor> DualPathBlockImpl::forward(const torch::Tensor& residual,
                                                                   const torch::Tensor& dense) {
  const auto x = dense.defined() ? torch::cat({residual, dense}, 1) : residual;
  torch::Tensor shortcut_residual = residual;
  torch::Tensor shortcut_dense = dense;
  if (projection_) {
    auto s = projection_->forward(x);
    shortcut_residual = s.narrow(1, 0, bw_);
    shortcut_dense = s.narrow(1, bw_, s.size(1) - bw_);
  }
  auto y = expand_->forward(grouped_->forward(reduce_->forward(x)));
  auto out_residual = shortcut_residual + y.narrow(1, 0, bw_);
  auto out_dense = torch::cat({shortcut_dense, y.narrow(1, bw_, y.size(1) - bw_)}, 1);
  return {out_residual, out_dense};
}

DPNImpl::DPNImpl(const ExpertOptions& options, const DpnConfig& config) {
  const double w = options.width;
  // Reference events: stem conv, stem max-pool, first block of stages 2-4.
  DownsamplePlan plan(options.image_size, 5);
  const int init = ScaleChannels(config.init_features, w, 2, 4);
  stem_ = register_module("stem", torch::nn::Sequential());
  if (plan.Next()) {
    const int kernel = config.small ? 3 : 7;
    stem_->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(options.in_channels, init, kernel).stride(2).padding(kernel / 2).bias(false)));
  } else {
    // Small input: no stem stride, and a 3x3 kernel in place of the 7x7.
    stem_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels, init, 3).padding(1).bias(false)));
  }
  stem_->push_back(torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(init).eps(kBnEps)));
  stem_->push_back(torch::nn::ReLU(true));
  if (plan.Next()) stem_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));

  blocks_ = register_module("blocks", torch::nn::ModuleList());
  const int bw_factor = config.small ? 1 : 4;
  const int per_group = config.k_r / config.groups;  // 4 in all three reference configs
  int in = init;
  for (int stage = 0; stage < 4; ++stage) {
    const int scale = 1 << stage;
    const int bw = ScaleChannels(64 * bw_factor * scale, w);
    const int inc = ScaleChannels(config.increase[stage], w, 4, 4);
    // The width multiplier scales the channels per group; the cardinality,
    // the defining hyper-parameter, stays (at least one channel per group).
    const int bottleneck = config.groups * std::max(1, static_cast<int>(std::lround(per_group * scale * w)));
    const int stride = stage == 0 ? 1 : plan.NextStride();
    blocks_->push_back(DualPathBlock(in, bottleneck, bw, inc, config.groups, /*project=*/true, stride));
    in = bw + 3 * inc;
    for (int b = 1; b < config.blocks[stage]; ++b) {
      blocks_->push_back(DualPathBlock(in, bottleneck, bw, inc, config.groups, /*project=*/false, 1));
      in += inc;
    }
  }
  head_bn_ = register_module("head_bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(in).eps(kBnEps)));
  classifier_ = register_module("classifier", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, options.num_classes, 1)));
  InitWeights(*this);
  classifier_->reset_parameters();  // a linear layer: fan-in init, not Kaiming fan-out
}

torch::Tensor DPNImpl::forward(const torch::Tensor& x) {
  torch::Tensor residual = stem_->forward(x);
  torch::Tensor dense;
  for (const auto& block : *blocks_) {
    std::tie(residual, dense) = block->as<DualPathBlock>()->forward(residual, dense);
  }
  auto y = torch::relu(head_bn_->forward(torch::cat({residual, dense}, 1)));
  y = torch::adaptive_avg_pool2d(y, {1, 1});
  return classifier_->forward(y).flatten(1);
}

}  // namespace moe4::worker
