// VisionTransformer in the `lemur` catalogue: LEMUR's
// ab/nn/nn/VisionTransformer.py (read at
// sairevanth0007/nn-dataset@964660af3ec8c4ce69c4947f1c55c585e9049ce8, the
// copy the index holds). It is torchvision 0.14's ViT-B inlined: patch
// embedding conv (kernel = stride = patch, bias), a zero-initialised class
// token, a learned position embedding (N(0, 0.02)), dropout, 12 pre-norm
// encoder blocks (768 wide, 12 heads, MLP 3072 with GELU, LayerNorm eps 1e-6),
// a final LayerNorm and Linear(768, classes) on the class token.
// The patch size is LEMUR's get_closest_split(image_size,
// int(image_size * prm patch_size 0.25)): of the divisors of the input side,
// the first above a quarter of it, or the one below when that is nearer (ties
// go up): 8 at 32 (seq 17), 7 at 28 (seq 17), 2 at 8, 1 at a prime side. So
// the network is built for one input side and forward refuses any other, as
// LEMUR's does. prm: dropout 0.2 (after embedding, after attention, in the
// MLP), attention_dropout 0.1 (on the attention weights). Init ported: patch
// conv truncated-normal std sqrt(1 / fan_in) with zero bias; MLP weights
// xavier-uniform, biases N(0, 1e-6); attention in-projection xavier-uniform
// with zero bias, out-projection bias zero (weight: LibTorch's = PyTorch's
// Linear default); the head all zeros (so at initialisation only the head gets
// gradients). LEMUR's learn(): SGD, cross-entropy, and
// clip_grad_norm_(parameters, 3) before every step.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_VISION_TRANSFORMER_H_
#define MOE4_WORKER_MODELS_LEMUR_VISION_TRANSFORMER_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// nn.MultiheadAttention(dim, heads, dropout, batch_first=True) used as self
// attention without returned weights: [B, N, C] -> [B, N, C]; the same
// parameters (in_proj_weight, in_proj_bias, out_proj).
class VitSelfAttentionImpl : public torch::nn::Module {
 public:
  VitSelfAttentionImpl(int dim, int heads, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t heads_;
  double dropout_;
  torch::Tensor in_proj_weight_;  // [3 C, C]
  torch::Tensor in_proj_bias_;    // [3 C]
  torch::nn::Linear out_proj_{nullptr};
};
TORCH_MODULE(VitSelfAttention);

// torchvision's EncoderBlock: x + Dropout(MHSA(LN(x))), then + MLP(LN(.)).
class VitEncoderBlockImpl : public torch::nn::Module {
 public:
  VitEncoderBlockImpl(int dim, int heads, int mlp_dim);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::LayerNorm ln_1_{nullptr};
  VitSelfAttention self_attention_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::LayerNorm ln_2_{nullptr};
  torch::nn::Sequential mlp_{nullptr};
};
TORCH_MODULE(VitEncoderBlock);

// torchvision's Encoder: + position embedding, dropout, blocks, LayerNorm.
class VitEncoderImpl : public torch::nn::Module {
 public:
  VitEncoderImpl(int seq_length, int layers, int heads, int dim, int mlp_dim);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::Tensor pos_embedding_;  // [1, seq_length, C]
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Sequential layers_{nullptr};
  torch::nn::LayerNorm ln_{nullptr};
};
TORCH_MODULE(VitEncoder);

class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  // LEMUR's get_closest_split(side, int(side * 0.25)); throws
  // std::invalid_argument where LEMUR's gets None (never for side >= 1).
  static int PatchSize(int side);

 private:
  int64_t image_size_;
  int64_t patch_size_;
  int64_t hidden_dim_;
  torch::nn::Conv2d conv_proj_{nullptr};
  torch::Tensor class_token_;  // [1, 1, C]
  VitEncoder encoder_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(VisionTransformer);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_VISION_TRANSFORMER_H_
