// MaxVit in the `lemur` catalogue: LEMUR's ab/nn/nn/MaxVit.py (read at
// waleedkhalid1/nn-dataset-1@4ac53ab56482bf45ba6859ec5cb3c2c5285f2e60; the
// sairevanth0007 fork's copy is not in the index, the counts match
// shared/LEMUR.md). It is torchvision 0.14's MaxVit-T inlined (stem 64,
// blocks 64/128/256/512 with 2/2/5/2 layers, head_dim 32, MBConv expansion 4
// and squeeze ratio 0.25, MLP ratio 4, BatchNorm eps 1e-3 momentum 0.01,
// GELU) with one change that defines the family: partition_size = 1 (the
// reference uses 7). Stem: 3x3/2 conv (no bias) + BN + GELU, 3x3 conv (bias).
// Each layer: MBConv (pre-BN, 1x1 conv-BN-GELU, 3x3/s depthwise conv-BN-GELU,
// squeeze-excitation with SiLU, 1x1 conv; a 3x3/2 avg-pool + 1x1 conv
// shortcut where the shape changes), then a block-window and a grid
// attention layer: x + SD(Dropout(MHSA(LN(x)))), x + SD(MLP(LN(x))).
// Classifier: global average pool, LayerNorm, Linear(512, 512), Tanh, Linear
// without bias.
// Quirks kept: with partition_size 1 every window (and every grid group)
// holds one token, so each attention is a softmax over a single key and its
// output is the value projection; the relative position bias tables still
// exist as parameters ((2*1-1)^2 = 1 entry per head) and receive zero
// gradients. The attention scales keys by feat_dim^-0.5 (not head_dim^-0.5),
// as torchvision does. The grid sizes are fixed at construction from
// options.image_size (forward needs that size). prm: dropout 0.2 (MLP),
// attention_dropout 0.1 (after the attention), stochastic depth
// linspace(0, 0.1) over the 11 layers (the first MBConv has none). Init:
// Conv2d and Linear weights N(0, 0.02) (not truncated), biases 0; bias tables
// truncated-normal 0.02. Any input of 1x1 or more gives logits (each stride-2
// step maps n to (n - 1) / 2 + 1). LEMUR's learn(): SGD, cross-entropy, and
// clip_grad_norm_(parameters, 3) before every step.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_MAXVIT_H_
#define MOE4_WORKER_MODELS_LEMUR_MAXVIT_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// torchvision's SqueezeExcitation(channels, squeeze, activation=SiLU):
// x * sigmoid(fc2(silu(fc1(avgpool(x))))), 1x1 convs with bias.
class MaxVitSqueezeExcitationImpl : public torch::nn::Module {
 public:
  MaxVitSqueezeExcitationImpl(int channels, int squeeze);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d fc1_{nullptr};
  torch::nn::Conv2d fc2_{nullptr};
};
TORCH_MODULE(MaxVitSqueezeExcitation);

class MaxVitMBConvImpl : public torch::nn::Module {
 public:
  MaxVitMBConvImpl(int in_channels, int out_channels, int stride, double stochastic_depth_prob);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double stochastic_depth_prob_;
  torch::nn::Sequential proj_{nullptr};  // null: identity shortcut
  torch::nn::Sequential layers_{nullptr};
};
TORCH_MODULE(MaxVitMBConv);

// Multi-head self-attention within groups of P tokens, [B, G, P, C] ->
// [B, G, P, C], with a learned relative position bias over a sqrt(P) square.
class MaxVitRelativeAttentionImpl : public torch::nn::Module {
 public:
  MaxVitRelativeAttentionImpl(int feat_dim, int head_dim, int max_seq_len);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t heads_;
  int64_t head_dim_;
  int64_t tokens_;
  double scale_;
  torch::nn::Linear to_qkv_{nullptr};
  torch::nn::Linear merge_{nullptr};
  torch::Tensor relative_position_bias_table_;  // [(2 side - 1)^2, heads]
  torch::Tensor relative_position_index_;       // [tokens^2] long buffer
};
TORCH_MODULE(MaxVitRelativeAttention);

// torchvision's PartitionAttentionLayer: attention within block windows
// ("window") or within a dilated grid ("grid") of an NCHW map.
class MaxVitPartitionAttentionImpl : public torch::nn::Module {
 public:
  MaxVitPartitionAttentionImpl(int channels, int partition_size, bool grid, int grid_size,
                               double stochastic_depth_prob);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  bool grid_;
  int64_t p_;          // side of the squares the map is cut into
  int64_t grid_size_;  // side of the map this layer was built for
  double stochastic_depth_prob_;
  torch::nn::LayerNorm attn_norm_{nullptr};
  MaxVitRelativeAttention attn_{nullptr};
  torch::nn::Dropout attn_dropout_{nullptr};
  torch::nn::Sequential mlp_{nullptr};
};
TORCH_MODULE(MaxVitPartitionAttention);

// MBConv, then window attention, then grid attention.
class MaxVitLayerImpl : public torch::nn::Module {
 public:
  MaxVitLayerImpl(int in_channels, int out_channels, int stride, int grid_size, double stochastic_depth_prob);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  MaxVitMBConv mbconv_{nullptr};
  MaxVitPartitionAttention window_attention_{nullptr};
  MaxVitPartitionAttention grid_attention_{nullptr};
};
TORCH_MODULE(MaxVitLayer);

class MaxVitImpl : public torch::nn::Module {
 public:
  explicit MaxVitImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential stem_{nullptr};
  torch::nn::Sequential blocks_{nullptr};  // every block's layers, in order
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(MaxVit);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_MAXVIT_H_
