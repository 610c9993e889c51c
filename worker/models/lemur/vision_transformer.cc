#include "worker/models/lemur/vision_transformer.h"

#include <torch/version.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

// LEMUR's prm values and the constants its file fixes (ViT-B).
constexpr double kVisionTransformerDropout = 0.2;           // prm dropout
constexpr double kVisionTransformerAttentionDropout = 0.1;  // prm attention_dropout
constexpr double kPatchFraction = 0.25;    // prm patch_size
constexpr double kVisionTransformerNormEps = 1e-6;
constexpr int kLayers = 12;
constexpr int kVisionTransformerHeads = 12;
constexpr int kHiddenDim = 768;
constexpr int kMlpDim = 3072;

// nn.init.trunc_normal_(t, std=std): mean 0, cut at the absolute bounds -2
// and 2 (not at 2 std), sampled through the inverse CDF as PyTorch does.
void VisionTransformerTruncatedNormal(torch::Tensor t, double std) {
  torch::NoGradGuard no_grad;
  const auto cdf = [](double v) { return 0.5 * (1.0 + std::erf(v / std::sqrt(2.0))); };
  const double lo = cdf(-2.0 / std), hi = cdf(2.0 / std);
  t.uniform_(2.0 * lo - 1.0, 2.0 * hi - 1.0).erfinv_().mul_(std * std::sqrt(2.0)).clamp_(-2.0, 2.0);
}

torch::nn::LayerNorm Norm(int dim) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kVisionTransformerNormEps)); }

}  // namespace

VitSelfAttentionImpl::VitSelfAttentionImpl(int dim, int heads, double dropout) : heads_(heads), dropout_(dropout) {
  in_proj_weight_ = register_parameter("in_proj_weight", torch::empty({3 * dim, dim}));
  in_proj_bias_ = register_parameter("in_proj_bias", torch::zeros({3 * dim}));
  out_proj_ = register_module("out_proj", torch::nn::Linear(dim, dim));
  // nn.MultiheadAttention._reset_parameters.
  torch::nn::init::xavier_uniform_(in_proj_weight_);
  torch::nn::init::zeros_(out_proj_->bias);
}

torch::Tensor VitSelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), n = x.size(1), c = x.size(2);
  // [3, B, heads, N, head_dim]
  const auto qkv =
      torch::linear(x, in_proj_weight_, in_proj_bias_).view({b, n, 3, heads_, c / heads_}).permute({2, 0, 3, 1, 4});
#if TORCH_VERSION_MAJOR >= 2
  // The fused kernels (flash / memory-efficient on CUDA) compute the same
  // softmax(q k^T / sqrt(head_dim)) v with dropout on the weights.
  auto out = at::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], {}, is_training() ? dropout_ : 0.0, false);
#else
  auto attn = torch::matmul(qkv[0] * (1.0 / std::sqrt(static_cast<double>(c / heads_))), qkv[1].transpose(-2, -1));
  auto out = torch::matmul(torch::dropout(torch::softmax(attn, -1), dropout_, is_training()), qkv[2]);
#endif
  return out_proj_->forward(out.transpose(1, 2).reshape({b, n, c}));
}

VitEncoderBlockImpl::VitEncoderBlockImpl(int dim, int heads, int mlp_dim) {
  ln_1_ = register_module("ln_1", Norm(dim));
  self_attention_ = register_module("self_attention", VitSelfAttention(dim, heads, kVisionTransformerAttentionDropout));
  dropout_ = register_module("dropout", torch::nn::Dropout(kVisionTransformerDropout));
  ln_2_ = register_module("ln_2", Norm(dim));
  // torchvision's MLPBlock: Linear, GELU, Dropout, Linear, Dropout.
  torch::nn::Linear fc1(dim, mlp_dim), fc2(mlp_dim, dim);
  mlp_ = register_module("mlp", torch::nn::Sequential(fc1, torch::nn::GELU(), torch::nn::Dropout(kVisionTransformerDropout), fc2,
                                                      torch::nn::Dropout(kVisionTransformerDropout)));
  for (auto* linear : {fc1.get(), fc2.get()}) {
    torch::nn::init::xavier_uniform_(linear->weight);
    torch::nn::init::normal_(linear->bias, 0.0, 1e-6);
  }
}

torch::Tensor VitEncoderBlockImpl::forward(const torch::Tensor& x) {
  const auto y = x + dropout_->forward(self_attention_->forward(ln_1_->forward(x)));
  return y + mlp_->forward(ln_2_->forward(y));
}

VitEncoderImpl::VitEncoderImpl(int seq_length, int layers, int heads, int dim, int mlp_dim) {
  pos_embedding_ = register_parameter("pos_embedding", torch::empty({1, seq_length, dim}));
  torch::nn::init::normal_(pos_embedding_, 0.0, 0.02);
  dropout_ = register_module("dropout", torch::nn::Dropout(kVisionTransformerDropout));
  layers_ = register_module("layers", torch::nn::Sequential());
  for (int i = 0; i < layers; ++i) {
    layers_->push_back("encoder_layer_" + std::to_string(i), VitEncoderBlock(dim, heads, mlp_dim));
  }
  ln_ = register_module("ln", Norm(dim));
}

torch::Tensor VitEncoderImpl::forward(const torch::Tensor& x) {
  return ln_->forward(layers_->forward(dropout_->forward(x + pos_embedding_)));
}

int VisionTransformerImpl::PatchSize(int side) {
  const int close_to = static_cast<int>(side * kPatchFraction);
  std::vector<int> divisors;
  for (int i = 1; i <= side; ++i) {
    if (side % i == 0) divisors.push_back(i);
  }
  for (size_t i = 0; i < divisors.size(); ++i) {
    if (close_to < divisors[i]) {
      if (i == 0) return divisors[i];
      return divisors[i] - close_to > close_to - divisors[i - 1] ? divisors[i - 1] : divisors[i];
    }
  }
  throw std::invalid_argument("lemur VisionTransformer: no patch size for an input side of " + std::to_string(side));
}

VisionTransformerImpl::VisionTransformerImpl(const ExpertOptions& options)
    : image_size_(options.image_size),
      patch_size_(PatchSize(options.image_size)),
      // Divisible by 12 so that the 12 heads split it evenly.
      hidden_dim_(Scaled(kHiddenDim, options.width, kVisionTransformerHeads)) {
  const int dim = static_cast<int>(hidden_dim_);
  conv_proj_ = register_module(
      "conv_proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels, dim, patch_size_).stride(patch_size_)));
  const int64_t patches_per_side = image_size_ / patch_size_;
  class_token_ = register_parameter("class_token", torch::zeros({1, 1, hidden_dim_}));
  encoder_ = register_module("encoder", VitEncoder(static_cast<int>(patches_per_side * patches_per_side + 1), kLayers,
                                                   kVisionTransformerHeads, dim, Scaled(kMlpDim, options.width)));
  head_ = register_module("head", torch::nn::Linear(dim, options.num_classes));

  VisionTransformerTruncatedNormal(conv_proj_->weight, std::sqrt(1.0 / (options.in_channels * patch_size_ * patch_size_)));
  torch::nn::init::zeros_(conv_proj_->bias);
  torch::nn::init::zeros_(head_->weight);
  torch::nn::init::zeros_(head_->bias);
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& x) {
  if (x.size(2) != image_size_ || x.size(3) != image_size_) {
    throw std::invalid_argument("lemur VisionTransformer: built for " + std::to_string(image_size_) + "x" +
                                std::to_string(image_size_) + " inputs, got " + std::to_string(x.size(2)) + "x" +
                                std::to_string(x.size(3)));
  }
  const int64_t b = x.size(0);
  auto tokens = conv_proj_->forward(x).reshape({b, hidden_dim_, -1}).permute({0, 2, 1});
  tokens = torch::cat({class_token_.expand({b, -1, -1}), tokens}, 1);
  return head_->forward(encoder_->forward(tokens).select(1, 0));
}

}  // namespace moe4::worker::lemur
