// SwinTransformer expert, Swin-T config at width 1.0: patch embedding
// (p x p stride-p conv + LayerNorm), four stages of (2, 2, 6, 2) Swin blocks
// at 96/192/384/768 channels with 3/6/12/24 heads (32 channels per head),
// patch merging (2x2 neighbourhood concat -> LayerNorm -> Linear 4C -> 2C)
// between stages, final LayerNorm, global average pool, linear head. Blocks
// alternate regular and shifted windows (shift = window / 2, with the
// attention mask that keeps wrapped-around regions apart), each window
// attention adds a learned relative position bias, and stochastic depth rises
// linearly to 0.2.
//
// Small inputs: the reference 4x4 patch and three merges are five halvings;
// a DownsamplePlan drops the earliest (patch 2 at 32x32, patch 1 at 28x28)
// so the last stage is at least 2x2, and a dropped merge keeps the channel
// doubling without the spatial reduction.
// Window size (divide, else pad): per stage, the whole map when it is at most
// 7x7 (no shift then, as in the reference), else the largest divisor of the
// map side in 4..7 (4 at 16x16, 7 at 28x28, 5 at 20x20), else 7 with the map
// zero-padded to a multiple of 7 (the reference code's padding). Odd maps are
// padded before merging. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_SWIN_TRANSFORMER_H_
#define MOE4_WORKER_MODELS_SWIN_TRANSFORMER_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/attention.h"
#include "worker/models/expert_options.h"

namespace moe4::worker {

// (Shifted) window attention + MLP on a [B, H, W, C] map of fixed side.
class SwinBlockImpl : public torch::nn::Module {
 public:
  SwinBlockImpl(int dim, int heads, int resolution, int window, int shift, double drop_path);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int window_;
  int shift_;
  double drop_path_;
  torch::nn::LayerNorm norm1_{nullptr};
  MultiHeadSelfAttention attention_{nullptr};
  RelativePositionBias bias_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  TransformerMlp mlp_{nullptr};
  torch::Tensor mask_;  // [windows, N, N] buffer; undefined without a shift
};
TORCH_MODULE(SwinBlock);

// [B, H, W, C] -> [B, ceil(H/2), ceil(W/2), 2C]; with downsample = false the
// channel doubling only (LayerNorm -> Linear C -> 2C), for small inputs.
class SwinPatchMergingImpl : public torch::nn::Module {
 public:
  SwinPatchMergingImpl(int dim, bool downsample);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  bool downsample_;
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear reduction_{nullptr};
};
TORCH_MODULE(SwinPatchMerging);

class SwinTransformerImpl : public torch::nn::Module {
 public:
  explicit SwinTransformerImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  int patch_size() const { return patch_; }
  // Per stage: map side and window side.
  const std::vector<int>& resolutions() const { return resolutions_; }
  const std::vector<int>& windows() const { return windows_; }

 private:
  int patch_;
  std::vector<int> resolutions_;
  std::vector<int> windows_;
  torch::nn::Conv2d patch_embed_{nullptr};
  torch::nn::LayerNorm embed_norm_{nullptr};
  torch::nn::Sequential stages_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(SwinTransformer);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_SWIN_TRANSFORMER_H_
