// ConvNeXt expert, ConvNeXt-T at width 1.0 (Liu et al. 2022): a patchify
// stem (4x4 s4 conv + LayerNorm), four stages of 3/3/9/3 blocks at
// 96/192/384/768 x width joined by LayerNorm + 2x2 s2 conv downsampling,
// GAP, LayerNorm, linear. Block: 7x7 depthwise conv -> LayerNorm -> Linear 4x
// -> GELU -> Linear -> layer scale (init 1e-6) -> stochastic depth (rate
// rising linearly to 0.1) + residual. On small inputs the stem patch shrinks
// to 2 or 1 and dropped downsamplers become LayerNorm + 1x1 conv (the stem
// counts as two of the five reference halvings). Not thread-safe (a LibTorch
// module).
#ifndef MOE4_WORKER_MODELS_CONVNEXT_H_
#define MOE4_WORKER_MODELS_CONVNEXT_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker {

// LayerNorm over the channels of an NCHW tensor.
class ChannelLayerNormImpl : public torch::nn::Module {
 public:
  explicit ChannelLayerNormImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(ChannelLayerNorm);

class ConvNeXtBlockImpl : public torch::nn::Module {
 public:
  ConvNeXtBlockImpl(int channels, double drop_path);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double drop_path_;
  torch::nn::Conv2d depthwise_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};  // applied channels-last
  torch::nn::Linear expand_{nullptr};
  torch::nn::Linear project_{nullptr};
  torch::Tensor gamma_;  // layer scale, [channels]
};
TORCH_MODULE(ConvNeXtBlock);

class ConvNeXtImpl : public torch::nn::Module {
 public:
  explicit ConvNeXtImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::LayerNorm head_norm_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(ConvNeXt);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_CONVNEXT_H_
