// ConvNeXt in the `lemur` catalogue: LEMUR's ab/nn/nn/ConvNeXt.py (read at
// waleedkhalid1/nn-dataset-1@4ac53ab56482bf45ba6859ec5cb3c2c5285f2e60; the
// sairevanth0007 fork's copy is not in the index, the counts match
// shared/LEMUR.md). It is torchvision 0.14's ConvNeXt inlined with the
// ConvNeXt-S table: a 4x4/4 patchify conv (bias) + channel LayerNorm, four
// stages of 3/3/27/3 blocks at 96/192/384/768 channels joined by
// LayerNorm + 2x2/2 conv, global average pool, LayerNorm, linear. Block: 7x7
// depthwise conv -> LayerNorm -> Linear 4x -> GELU -> Linear -> layer scale
// (a [C, 1, 1] parameter initialised to 1e-6) -> per-sample stochastic depth
// (rate rising linearly from 0 to prm stochastic_depth_prob 0.1 over the 36
// blocks) + residual. LayerNorm eps is 1e-6 everywhere (prm norm_eps in the
// stem, downsamplers and head; the block's own default). Conv and Linear
// weights are truncated-normal with std prm norm_std 0.02, biases zero.
// Quirk kept: no small-input adaptation, the map halves five times (4x, then
// 2x three times), so inputs below 32x32 fail in forward (28x28 does, as in
// LEMUR). LEMUR's learn(): plain SGD, cross-entropy, no clipping.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_CONVNEXT_H_
#define MOE4_WORKER_MODELS_LEMUR_CONVNEXT_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// LayerNorm over the channels of an NCHW map (torchvision's LayerNorm2d):
// parameters `weight` and `bias` of size C, as nn.LayerNorm's.
class ConvNeXtLayerNorm2dImpl : public torch::nn::Module {
 public:
  ConvNeXtLayerNorm2dImpl(int channels, double eps);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t channels_;
  double eps_;
  torch::Tensor weight_;
  torch::Tensor bias_;
};
TORCH_MODULE(ConvNeXtLayerNorm2d);

// torchvision's CNBlock (see the file comment).
class ConvNeXtBlockImpl : public torch::nn::Module {
 public:
  ConvNeXtBlockImpl(int channels, double stochastic_depth_prob);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double stochastic_depth_prob_;
  torch::nn::Conv2d depthwise_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};  // applied channels-last
  torch::nn::Linear expand_{nullptr};
  torch::nn::Linear project_{nullptr};
  torch::Tensor layer_scale_;  // [C, 1, 1]
};
TORCH_MODULE(ConvNeXtBlock);

class ConvNeXtImpl : public torch::nn::Module {
 public:
  explicit ConvNeXtImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  // LEMUR's `features` flattened: stem conv and norm, then each stage's
  // blocks followed by its downsampling norm and conv.
  torch::nn::Sequential features_{nullptr};
  ConvNeXtLayerNorm2d head_norm_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(ConvNeXt);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_CONVNEXT_H_
