#include "worker/models/vision_transformer.h"

#include <cmath>
#include <cstdlib>
#include <tuple>
#include <utility>

#include "worker/models/layers.h"

namespace moe4::worker {
namespace {

constexpr int kVisionTransformerEmbedDim = 192;  // ViT-Ti
constexpr int kVisionTransformerHeadDim = 64;
constexpr int kDepth = 12;
constexpr int kVisionTransformerMlpRatio = 4;
constexpr double kVisionTransformerDropout = 0.1;
constexpr int kTargetGrid = 8;

}  // namespace

std::pair<int, int> VisionTransformerPatch(int image_size) {
  const double target = static_cast<double>(image_size) / kTargetGrid;
  int best = 0;
  for (int p = 1; p <= image_size; ++p) {
    const int grid = image_size / p;
    if (image_size % p != 0 || grid < 4 || grid > 16) continue;
    if (best == 0 || std::abs(p - target) <= std::abs(best - target)) best = p;
  }
  if (best > 0) return {best, 0};
  const int p = (image_size + kTargetGrid - 1) / kTargetGrid;
  return {p, (p - image_size % p) % p};
}

ViTEncoderBlockImpl::ViTEncoderBlockImpl(int dim, int heads, int mlp_hidden, double dropout) {
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
  attention_ = register_module("attention", MultiHeadSelfAttention(dim, heads, 0.0));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
  mlp_ = register_module("mlp", TransformerMlp(dim, mlp_hidden, dropout));
}

torch::Tensor ViTEncoderBlockImpl::forward(const torch::Tensor& x) {
  auto y = x + attention_->forward(norm1_->forward(x));
  return y + mlp_->forward(norm2_->forward(y));
}

VisionTransformerImpl::VisionTransformerImpl(const ExpertOptions& options) {
  std::tie(patch_, pad_) = VisionTransformerPatch(options.image_size);
  const int grid = (options.image_size + pad_) / patch_;
  const int dim = ScaleChannels(kVisionTransformerEmbedDim, options.width);
  const int heads = AttentionHeads(dim, kVisionTransformerHeadDim);
  patch_embed_ = register_module(
      "patch_embed", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels, dim, patch_).stride(patch_)));
  class_token_ = register_parameter("class_token", torch::zeros({1, 1, dim}));
  position_ = register_parameter("position", torch::zeros({1, grid * grid + 1, dim}));
  dropout_ = register_module("dropout", torch::nn::Dropout(kVisionTransformerDropout));
  encoder_ = register_module("encoder", torch::nn::Sequential());
  for (int i = 0; i < kDepth; ++i) encoder_->push_back(ViTEncoderBlock(dim, heads, kVisionTransformerMlpRatio * dim, kVisionTransformerDropout));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
  head_ = register_module("head", torch::nn::Linear(dim, options.num_classes));
  InitTransformerWeights(*this);
  torch::NoGradGuard no_grad;
  position_.normal_(0.0, 0.02);
  // The patch embedding is a linear map of each patch: LeCun-normal like the
  // reference (fan-in), not the fan-out Kaiming of the conv families.
  const double fan_in = static_cast<double>(options.in_channels) * patch_ * patch_;
  patch_embed_->weight.normal_(0.0, 1.0 / std::sqrt(fan_in));
  patch_embed_->bias.zero_();
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& x) {
  auto input = pad_ > 0 ? torch::constant_pad_nd(x, {0, pad_, 0, pad_}) : x;
  auto tokens = patch_embed_->forward(input).flatten(2).transpose(1, 2);  // [B, N, D]
  tokens = torch::cat({class_token_.expand({tokens.size(0), -1, -1}), tokens}, 1) + position_;
  tokens = norm_->forward(encoder_->forward(dropout_->forward(tokens)));
  return head_->forward(tokens.select(1, 0));
}

}  // namespace moe4::worker
