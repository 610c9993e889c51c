#include "worker/models/lemur/efficientnet.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

struct Stage {
  int expand_ratio;
  int kernel;
  int stride;
  int out;  // reference channels
  int repeats;
};

// EfficientNet-B0 (width and depth multipliers 1.0), as LEMUR's file builds it.
constexpr int kStemChannels = 32;
constexpr Stage kStages[] = {
    {1, 3, 1, 16, 1}, {6, 3, 2, 24, 2}, {6, 5, 2, 40, 2},  {6, 3, 2, 80, 3},
    {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4}, {6, 3, 1, 320, 1},
};
constexpr int kHeadFactor = 4;  // head conv: 4 x the last stage's channels
constexpr double kStochasticDepth = 0.2;  // hard-coded in LEMUR's file
constexpr double kEfficientnetDropout = 0.2;          // prm['dropout']
// EfficientNet's channel counts are multiples of 8 (torchvision's
// _make_divisible); keep them so when the width shrinks.
constexpr int kDivisor = 8;

// torchvision's _make_divisible: nearest multiple of `divisor`, never below
// it and never more than 10% under `value`.
int MakeDivisible(double value, int divisor) {
  int rounded = std::max(divisor, static_cast<int>(value + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * value) rounded += divisor;
  return rounded;
}

}  // namespace

EfficientNetConvImpl::EfficientNetConvImpl(int in, int out, int kernel, int stride, int groups, bool activate)
    : activate_(activate) {
  conv_ = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                                        .stride(stride)
                                                        .padding((kernel - 1) / 2)
                                                        .groups(groups)
                                                        .bias(false)));
  bn_ = register_module("bn", torch::nn::BatchNorm2d(out));
}

torch::Tensor EfficientNetConvImpl::forward(const torch::Tensor& x) {
  auto y = bn_->forward(conv_->forward(x));
  return activate_ ? torch::silu(y) : y;
}

EfficientNetSqueezeExcitationImpl::EfficientNetSqueezeExcitationImpl(int channels, int squeeze_channels) {
  fc1_ = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, squeeze_channels, 1)));
  fc2_ = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze_channels, channels, 1)));
}

torch::Tensor EfficientNetSqueezeExcitationImpl::forward(const torch::Tensor& x) {
  auto scale = torch::adaptive_avg_pool2d(x, {1, 1});
  scale = fc2_->forward(torch::silu(fc1_->forward(scale)));
  return x * torch::sigmoid(scale);
}

EfficientNetMBConvImpl::EfficientNetMBConvImpl(int in, int out, int expand_ratio, int kernel, int stride,
                                               double drop_prob)
    : residual_(stride == 1 && in == out), drop_prob_(drop_prob) {
  const int expanded = MakeDivisible(static_cast<double>(in) * expand_ratio, kDivisor);
  if (expanded != in) {
    expand_ = register_module("expand", EfficientNetConv(in, expanded, 1, 1, 1, true));
  }
  depthwise_ = register_module("depthwise", EfficientNetConv(expanded, expanded, kernel, stride, expanded, true));
  // The squeeze width follows the block's input, not its expansion.
  se_ = register_module("se", EfficientNetSqueezeExcitation(expanded, std::max(1, in / 4)));
  project_ = register_module("project", EfficientNetConv(expanded, out, 1, 1, 1, false));
}

torch::Tensor EfficientNetMBConvImpl::forward(const torch::Tensor& x) {
  auto y = expand_ ? expand_->forward(x) : x;
  y = project_->forward(se_->forward(depthwise_->forward(y)));
  if (!residual_) return y;
  if (is_training() && drop_prob_ > 0.0) {
    // torchvision's StochasticDepth(p, "row"): drop the branch per example,
    // rescale survivors by 1 / (1 - p).
    const double survival = 1.0 - drop_prob_;
    auto keep = torch::empty({y.size(0), 1, 1, 1}, y.options()).bernoulli_(survival);
    y = y * keep.div_(survival);
  }
  return y + x;
}

EfficientNetImpl::EfficientNetImpl(const ExpertOptions& options) {
  auto width = [&](int reference) { return Scaled(reference, options.width, kDivisor); };
  int channels = width(kStemChannels);
  stem_ = register_module("stem", EfficientNetConv(options.in_channels, channels, 3, 2, 1, true));

  int total_blocks = 0;
  for (const Stage& s : kStages) total_blocks += s.repeats;
  int block_id = 0;
  int stage_id = 0;
  for (const Stage& s : kStages) {
    ++stage_id;
    const int out = width(s.out);
    for (int r = 0; r < s.repeats; ++r) {
      const double drop = kStochasticDepth * block_id / total_blocks;
      blocks_.push_back(register_module(
          "stage" + std::to_string(stage_id) + "_block" + std::to_string(r + 1),
          EfficientNetMBConv(channels, out, s.expand_ratio, s.kernel, r == 0 ? s.stride : 1, drop)));
      channels = out;
      ++block_id;
    }
  }
  const int head = kHeadFactor * channels;
  head_ = register_module("head", EfficientNetConv(channels, head, 1, 1, 1, true));
  dropout_ = register_module("dropout", torch::nn::Dropout(kEfficientnetDropout));
  classifier_ = register_module("classifier", torch::nn::Linear(head, options.num_classes));

  // LEMUR's explicit init (BatchNorm's ones/zeros are LibTorch's defaults).
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut);
      if (conv->bias.defined()) torch::nn::init::zeros_(conv->bias);
    } else if (auto* linear = m->as<torch::nn::Linear>()) {
      const double range = 1.0 / std::sqrt(static_cast<double>(linear->options.out_features()));
      torch::nn::init::uniform_(linear->weight, -range, range);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor EfficientNetImpl::forward(const torch::Tensor& x) {
  auto y = stem_->forward(x);
  for (auto& block : blocks_) y = block->forward(y);
  y = head_->forward(y);
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  return classifier_->forward(dropout_->forward(y));
}

}  // namespace moe4::worker::lemur
