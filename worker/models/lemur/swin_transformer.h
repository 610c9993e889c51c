// SwinTransformer in the `lemur` catalogue: LEMUR's ab/nn/nn/SwinTransformer.py
// (read at waleedkhalid1/nn-dataset-1@8d4abaca1f3cdc6be6a8c10b6e0a88f0c6b30462;
// the sairevanth0007 fork's copy is not in the index, the counts match
// shared/LEMUR.md). It is torchvision 0.14's Swin-T (V1 blocks) inlined: a
// 4x4/4 patch conv + LayerNorm to 96 channels, four stages of 2/2/6/2 blocks
// with 3/6/12/24 heads at 96/192/384/768 channels, patch merging (2x2
// neighbours concatenated -> LayerNorm(4C) -> Linear(4C, 2C) without bias)
// between stages, LayerNorm, global average pool, linear. Block:
// x + SD(W-MSA(LN(x))), then x + SD(MLP(LN(x))) with a 4x GELU MLP; the
// attention has a learned relative position bias table ((2*7-1)^2 x heads,
// parameters) over fixed 7x7 windows, shifted by 3 in every second block.
// prm: dropout 0.2 (after the attention projection and in the MLP),
// attention_dropout 0.1 (on the attention weights), stochastic depth rising
// linearly from 0 to 0.1 over the 12 blocks. LayerNorm eps 1e-5. Every Linear
// is truncated-normal std 0.02 with zero bias (LEMUR's last init loop
// overrides the MLP's xavier init), the bias tables truncated-normal 0.02.
// Quirks kept from torchvision 0.14: maps are zero-padded up to a multiple of
// the window (7) and the padded tokens take part in attention unmasked; a
// shift is dropped where the window covers the whole padded side; odd maps
// are zero-padded before patch merging. So any input of 4x4 or more works.
// LEMUR's learn(): plain SGD, cross-entropy, no clipping.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_SWIN_TRANSFORMER_H_
#define MOE4_WORKER_MODELS_LEMUR_SWIN_TRANSFORMER_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// 4x4/4 conv to the embedding width, channels-last, LayerNorm:
// [B, C_in, H, W] -> [B, H / 4, W / 4, C].
class SwinPatchEmbedImpl : public torch::nn::Module {
 public:
  SwinPatchEmbedImpl(int in_channels, int dim);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(SwinPatchEmbed);

// Multi-head self-attention inside (shifted) windows of a [B, H, W, C] map,
// with a relative position bias; returns [B, H, W, C].
class SwinWindowAttentionImpl : public torch::nn::Module {
 public:
  SwinWindowAttentionImpl(int dim, int heads, int window, int shift, double attention_dropout, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  // The additive mask (0 / -100) that keeps tokens rolled in from the
  // opposite edge apart: [windows, N, N], cached per padded map size.
  const torch::Tensor& ShiftMask(int64_t padded_h, int64_t padded_w, int64_t shift_h, int64_t shift_w,
                                 const torch::TensorOptions& options);

  int64_t heads_;
  int64_t window_;
  int64_t shift_;
  double attention_dropout_;
  double dropout_;
  torch::nn::Linear qkv_{nullptr};
  torch::nn::Linear proj_{nullptr};
  torch::Tensor relative_position_bias_table_;  // [(2 window - 1)^2, heads]
  torch::Tensor relative_position_index_;       // [window^4] long buffer
  torch::Tensor mask_;                          // cache of ShiftMask, not state
  int64_t mask_h_ = 0;                          // the padded map size mask_ is for
  int64_t mask_w_ = 0;
};
TORCH_MODULE(SwinWindowAttention);

// torchvision's SwinTransformerBlock (V1), channels-last.
class SwinBlockImpl : public torch::nn::Module {
 public:
  SwinBlockImpl(int dim, int heads, int window, int shift, double stochastic_depth_prob);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double stochastic_depth_prob_;
  torch::nn::LayerNorm norm1_{nullptr};
  SwinWindowAttention attn_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  torch::nn::Sequential mlp_{nullptr};
};
TORCH_MODULE(SwinBlock);

// [B, H, W, C] -> [B, ceil(H / 2), ceil(W / 2), 2C].
class SwinPatchMergingImpl : public torch::nn::Module {
 public:
  explicit SwinPatchMergingImpl(int dim);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear reduction_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(SwinPatchMerging);

class SwinTransformerImpl : public torch::nn::Module {
 public:
  explicit SwinTransformerImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  // LEMUR's `features` flattened: patch embedding, then each stage's blocks
  // followed by its patch merging.
  torch::nn::Sequential features_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(SwinTransformer);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_SWIN_TRANSFORMER_H_
