#include "worker/models/swin_transformer.h"

#include "worker/models/layers.h"

namespace moe4::worker {
namespace {

constexpr int kSwinTransformerEmbedDim = 96;  // Swin-T
constexpr int kDepths[] = {2, 2, 6, 2};
constexpr int kSwinTransformerHeadDim = 32;
constexpr int kWindow = 7;
constexpr int kSwinTransformerMlpRatio = 4;
constexpr double kDropPath = 0.2;

int RoundUp(int value, int multiple) { return (value + multiple - 1) / multiple * multiple; }

// The shifted-window mask of the reference code: label the nine regions that
// the cyclic shift brings together and forbid attention across labels.
torch::Tensor ShiftMask(int padded, int window, int shift) {
  auto labels = torch::zeros({1, padded, padded, 1});
  const int bounds[] = {0, padded - window, padded - shift, padded};
  int label = 0;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      using torch::indexing::Slice;
      labels.index_put_({0, Slice(bounds[i], bounds[i + 1]), Slice(bounds[j], bounds[j + 1]), 0}, label++);
    }
  }
  auto windows = MapToWindows(labels, window).squeeze(-1);  // [W, N]
  auto differ = windows.unsqueeze(1) != windows.unsqueeze(2);
  return torch::zeros(differ.sizes()).masked_fill(differ, -100.0);
}

}  // namespace

SwinBlockImpl::SwinBlockImpl(int dim, int heads, int resolution, int window, int shift, double drop_path)
    : window_(window), shift_(shift), drop_path_(drop_path) {
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  attention_ = register_module("attention", MultiHeadSelfAttention(dim, heads));
  bias_ = register_module("relative_position_bias", RelativePositionBias(window, heads));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  mlp_ = register_module("mlp", TransformerMlp(dim, kSwinTransformerMlpRatio * dim));
  if (shift_ > 0) mask_ = register_buffer("mask", ShiftMask(RoundUp(resolution, window), window, shift));
}

torch::Tensor SwinBlockImpl::forward(const torch::Tensor& x) {
  const int64_t h = x.size(1), w = x.size(2);
  const int64_t pad_h = RoundUp(h, window_) - h, pad_w = RoundUp(w, window_) - w;
  auto y = norm1_->forward(x);
  if (pad_h > 0 || pad_w > 0) y = torch::constant_pad_nd(y, {0, 0, 0, pad_w, 0, pad_h});
  if (shift_ > 0) y = torch::roll(y, {-shift_, -shift_}, {1, 2});
  auto windows = attention_->forward(MapToWindows(y, window_), bias_->forward(), mask_);
  y = WindowsToMap(windows, window_, h + pad_h, w + pad_w);
  if (shift_ > 0) y = torch::roll(y, {shift_, shift_}, {1, 2});
  if (pad_h > 0 || pad_w > 0) {
    using torch::indexing::Slice;
    y = y.index({Slice(), Slice(0, h), Slice(0, w)});
  }
  y = x + DropPathSamples(y, drop_path_, is_training());
  return y + DropPathSamples(mlp_->forward(norm2_->forward(y)), drop_path_, is_training());
}

SwinPatchMergingImpl::SwinPatchMergingImpl(int dim, bool downsample) : downsample_(downsample) {
  const int in = downsample ? 4 * dim : dim;
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({in})));
  reduction_ = register_module("reduction", torch::nn::Linear(torch::nn::LinearOptions(in, 2 * dim).bias(false)));
}

torch::Tensor SwinPatchMergingImpl::forward(const torch::Tensor& x) {
  if (!downsample_) return reduction_->forward(norm_->forward(x));
  using torch::indexing::None;
  using torch::indexing::Slice;
  auto y = torch::constant_pad_nd(x, {0, 0, 0, x.size(2) % 2, 0, x.size(1) % 2});
  y = torch::cat({y.index({Slice(), Slice(0, None, 2), Slice(0, None, 2)}),
                  y.index({Slice(), Slice(1, None, 2), Slice(0, None, 2)}),
                  y.index({Slice(), Slice(0, None, 2), Slice(1, None, 2)}),
                  y.index({Slice(), Slice(1, None, 2), Slice(1, None, 2)})},
                 -1);
  return reduction_->forward(norm_->forward(y));
}

SwinTransformerImpl::SwinTransformerImpl(const ExpertOptions& options) {
  // Reference events: the 4x4 patch (two halvings) and three merges.
  DownsamplePlan plan(options.image_size, 5);
  patch_ = 1;
  if (plan.Next()) patch_ *= 2;
  if (plan.Next()) patch_ *= 2;
  const int embed = ScaleChannels(kSwinTransformerEmbedDim, options.width);
  patch_embed_ = register_module(
      "patch_embed", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels, embed, patch_).stride(patch_)));
  embed_norm_ = register_module("embed_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({embed})));

  int total_blocks = 0;
  for (int depth : kDepths) total_blocks += depth;
  stages_ = register_module("stages", torch::nn::Sequential());
  int resolution = (options.image_size + patch_ - 1) / patch_;
  int dim = embed;
  int block = 0;
  for (int stage = 0; stage < 4; ++stage) {
    if (stage > 0) {
      const bool downsample = plan.Next();
      stages_->push_back(SwinPatchMerging(dim, downsample));
      if (downsample) resolution = (resolution + 1) / 2;
      dim *= 2;
    }
    const int window = WindowSideFor(resolution, kWindow);
    const int heads = AttentionHeads(dim, kSwinTransformerHeadDim);
    resolutions_.push_back(resolution);
    windows_.push_back(window);
    for (int i = 0; i < kDepths[stage]; ++i, ++block) {
      // A window covering the whole map has nothing to shift.
      const int shift = (i % 2 == 1 && resolution > window) ? window / 2 : 0;
      const double drop_path = kDropPath * block / (total_blocks - 1);
      stages_->push_back(SwinBlock(dim, heads, resolution, window, shift, drop_path));
    }
  }
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  head_ = register_module("head", torch::nn::Linear(dim, options.num_classes));
  InitTransformerWeights(*this);
}

torch::Tensor SwinTransformerImpl::forward(const torch::Tensor& x) {
  const int64_t pad = (patch_ - x.size(-1) % patch_) % patch_;
  auto input = pad > 0 ? torch::constant_pad_nd(x, {0, pad, 0, pad}) : x;
  auto y = embed_norm_->forward(patch_embed_->forward(input).permute({0, 2, 3, 1}));  // [B, H, W, C]
  y = norm_->forward(stages_->forward(y));
  return head_->forward(y.mean({1, 2}));
}

}  // namespace moe4::worker
