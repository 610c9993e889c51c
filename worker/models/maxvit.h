// MaxVit expert, MaxViT-T config at width 1.0: a two-conv stem (64), four
// stages of (2, 2, 5, 2) MaxViT blocks at 64/128/256/512 channels, then
// global average pool -> LayerNorm -> Linear -> tanh -> linear head. A block
// is MBConv (pre-BN, 1x1 expand 4x, 3x3 depthwise, squeeze-excitation 0.25,
// 1x1 project; the first block of a stage has stride 2) followed by
// block-window attention (local P x P windows) and grid attention (a P x P
// grid of tokens spread evenly over the whole map), each a pre-norm
// attention with a relative position bias plus a pre-norm MLP (4x).
// 32 channels per head; stochastic depth rises linearly to 0.2.
//
// Small inputs: the stem and the four stage strides are five halvings; a
// DownsamplePlan drops the earliest so the last stage is at least 2x2.
// Partition size (divide, else pad): per stage P = the whole map when it is at
// most 7x7 (block and grid attention both become global), else the largest
// divisor of the map side in 4..7 (4 at 16x16, 7 at 28x28), else 7 with the
// map zero-padded to a multiple of 7 for the attention and cropped after.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_MAXVIT_H_
#define MOE4_WORKER_MODELS_MAXVIT_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/attention.h"
#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

class MaxVitMBConvImpl : public torch::nn::Module {
 public:
  MaxVitMBConvImpl(int in, int out, int stride, double drop_path);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double drop_path_;
  torch::nn::Sequential main_{nullptr};
  torch::nn::Sequential shortcut_{nullptr};  // empty for the identity
};
TORCH_MODULE(MaxVitMBConv);

enum class MaxVitPartition { kBlock, kGrid };

// x + attn(LN(x)); x + MLP(LN(x)) over block or grid partitions of [B, C, H, W].
class MaxVitAttentionImpl : public torch::nn::Module {
 public:
  MaxVitAttentionImpl(int dim, int heads, int side, MaxVitPartition partition, double drop_path);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int side_;
  MaxVitPartition partition_;
  double drop_path_;
  torch::nn::LayerNorm norm1_{nullptr};
  MultiHeadSelfAttention attention_{nullptr};
  RelativePositionBias bias_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  TransformerMlp mlp_{nullptr};
};
TORCH_MODULE(MaxVitAttention);

class MaxVitImpl : public torch::nn::Module {
 public:
  explicit MaxVitImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  // Per stage: map side and partition side P.
  const std::vector<int>& resolutions() const { return resolutions_; }
  const std::vector<int>& partitions() const { return partitions_; }

 private:
  std::vector<int> resolutions_;
  std::vector<int> partitions_;
  torch::nn::Sequential stem_{nullptr};
  torch::nn::Sequential stages_{nullptr};
  torch::nn::LayerNorm head_norm_{nullptr};
  torch::nn::Linear pre_logits_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(MaxVit);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_MAXVIT_H_
