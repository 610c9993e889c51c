// Transformer pieces shared by the attention families (VisionTransformer,
// SwinTransformer, MaxVit): multi-head self-attention with an optional
// relative position bias and additive mask, the learned relative position bias
// of a square window, the transformer MLP, stochastic depth, window
// partitioning and the head/window-size rules that keep every family valid at
// any width and input size. Modules are not thread-safe (LibTorch modules
// never are); the free functions are pure.
#ifndef MOE4_WORKER_MODELS_ATTENTION_H_
#define MOE4_WORKER_MODELS_ATTENTION_H_

#include <torch/torch.h>

namespace moe4::worker {

// Head count for an embedding of `dim` channels aiming at `head_dim` channels
// per head: the largest h <= max(1, dim / head_dim) that divides dim, so
// width-scaled transformers keep a valid head split (ViT-Ti's 192 -> 3 heads,
// 24 -> 1 head).
int AttentionHeads(int dim, int head_dim);

// Side of the square attention window for a feature map of side `size`,
// aiming at `preferred` (7 in Swin and MaxViT): the whole map when it is no
// larger than `preferred` (global attention, nothing to shift); otherwise the
// largest divisor of `size` in [preferred / 2 + 1, preferred]; otherwise
// `preferred` itself, and the caller pads the map to a multiple of it.
int WindowSideFor(int size, int preferred);

// Stochastic depth: in training, zeroes each sample's residual branch with
// probability p and rescales the survivors by 1 / (1 - p); identity in eval.
torch::Tensor DropPathSamples(const torch::Tensor& x, double p, bool training);

// [B, H, W, C] with H, W multiples of `side` -> [B * windows, side * side, C]
// (row-major windows); WindowsToMap is its inverse.
torch::Tensor MapToWindows(const torch::Tensor& x, int64_t side);
torch::Tensor WindowsToMap(const torch::Tensor& windows, int64_t side, int64_t h, int64_t w);

// Learned bias B[head, i, j] indexed by the relative offset between positions
// i and j of a side x side window ((2 side - 1)^2 entries per head), as in
// Swin and MaxViT.
class RelativePositionBiasImpl : public torch::nn::Module {
 public:
  RelativePositionBiasImpl(int side, int heads);
  // [heads, side^2, side^2]
  torch::Tensor forward();

 private:
  int64_t tokens_;
  torch::Tensor table_;  // [(2 side - 1)^2, heads]
  torch::Tensor index_;  // [side^2 * side^2] long buffer
};
TORCH_MODULE(RelativePositionBias);

// Multi-head scaled dot-product self-attention over [B, N, C] tokens.
class MultiHeadSelfAttentionImpl : public torch::nn::Module {
 public:
  MultiHeadSelfAttentionImpl(int dim, int heads, double dropout = 0.0);
  // bias: [heads, N, N] or undefined. mask: [W, N, N] additive (0 / -100)
  // with B a multiple of W, window-major (batch b, window w at b * W + w),
  // or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& bias = {}, const torch::Tensor& mask = {});

 private:
  int64_t heads_;
  double scale_;
  torch::nn::Linear qkv_{nullptr};
  torch::nn::Linear proj_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(MultiHeadSelfAttention);

// Linear(dim, hidden) -> GELU -> Dropout -> Linear(hidden, dim) -> Dropout.
class TransformerMlpImpl : public torch::nn::Module {
 public:
  TransformerMlpImpl(int dim, int hidden, double dropout = 0.0);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Linear fc2_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(TransformerMlp);

// The usual transformer initialisation: Linear weights N(0, 0.02) (the
// 2-sigma truncation of the reference code is omitted), biases 0, LayerNorm
// weight 1 / bias 0. Convolutions and BatchNorm get InitWeights' treatment.
void InitTransformerWeights(torch::nn::Module& module);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_ATTENTION_H_
