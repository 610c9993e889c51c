#include "worker/models/convnext.h"

#include <vector>

#include "worker/models/layers.h"

namespace moe4::worker {

ChannelLayerNormImpl::ChannelLayerNormImpl(int channels) {
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels}).eps(1e-6)));
}

torch::Tensor ChannelLayerNormImpl::forward(const torch::Tensor& x) {
  return norm_->forward(x.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}

ConvNeXtBlockImpl::ConvNeXtBlockImpl(int channels, double drop_path) : drop_path_(drop_path) {
  depthwise_ = register_module(
      "depthwise", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 7).padding(3).groups(channels)));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels}).eps(1e-6)));
  expand_ = register_module("expand", torch::nn::Linear(channels, 4 * channels));
  project_ = register_module("project", torch::nn::Linear(4 * channels, channels));
  gamma_ = register_parameter("gamma", torch::full({channels}, 1e-6));
}

torch::Tensor ConvNeXtBlockImpl::forward(const torch::Tensor& x) {
  auto y = depthwise_->forward(x).permute({0, 2, 3, 1});  // NHWC for the per-pixel MLP
  y = project_->forward(torch::gelu(expand_->forward(norm_->forward(y))));
  y = (y * gamma_).permute({0, 3, 1, 2});
  if (is_training() && drop_path_ > 0) {
    // Stochastic depth: drop the whole branch per sample.
    const double keep = 1.0 - drop_path_;
    y = y * torch::empty({y.size(0), 1, 1, 1}, y.options()).bernoulli_(keep) / keep;
  }
  return x + y;
}

ConvNeXtImpl::ConvNeXtImpl(const ExpertOptions& options) {
  const int kDepths[] = {3, 3, 9, 3};
  const int kDims[] = {96, 192, 384, 768};
  constexpr double kDropPath = 0.1;  // ConvNeXt-T's rate for the deepest block
  // Reference events: the stem's two halvings (patch 4), then three downsamplers.
  DownsamplePlan plan(options.image_size, 5);
  features_ = register_module("features", torch::nn::Sequential());
  int patch = 1;
  if (plan.Next()) patch *= 2;
  if (plan.Next()) patch *= 2;
  int in = ScaleChannels(kDims[0], options.width);
  features_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels, in, patch).stride(patch)));
  features_->push_back(ChannelLayerNorm(in));
  const int total_blocks = 3 + 3 + 9 + 3;
  int index = 0;
  for (int stage = 0; stage < 4; ++stage) {
    const int out = ScaleChannels(kDims[stage], options.width);
    if (stage > 0) {
      const int stride = plan.NextStride();
      features_->push_back(ChannelLayerNorm(in));
      features_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, stride).stride(stride)));
    }
    for (int b = 0; b < kDepths[stage]; ++b) {
      features_->push_back(ConvNeXtBlock(out, kDropPath * index / (total_blocks - 1)));
      ++index;
    }
    in = out;
  }
  head_norm_ = register_module("head_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({in}).eps(1e-6)));
  classifier_ = register_module("classifier", torch::nn::Linear(in, options.num_classes));
  // Truncated normal (std 0.02) weights and zero biases for every conv and
  // linear layer; timm truncates at +-2 absolute, i.e. not at all at this std.
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      conv->weight.normal_(0.0, 0.02);
      conv->bias.zero_();
    } else if (auto* linear = m->as<torch::nn::Linear>()) {
      linear->weight.normal_(0.0, 0.02);
      linear->bias.zero_();
    }
  }
}

torch::Tensor ConvNeXtImpl::forward(const torch::Tensor& x) {
  auto y = features_->forward(x).mean({2, 3});
  return classifier_->forward(head_norm_->forward(y));
}

}  // namespace moe4::worker
