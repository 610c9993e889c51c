// EfficientNet expert (Tan & Le 2019), B0 at width 1.0: 3x3 s2 stem (32),
// seven stages of MBConv blocks (1x1 expand -> kxk depthwise -> squeeze-
// excitation -> 1x1 linear projection, SiLU, stochastic depth 0.2) following
// the B0 stage table, 1x1 conv to 1280, GAP, dropout 0.2, linear. Compound
// scaling: the width multiplier w implies phi = ln(w) / ln(1.1) and the depth
// multiplier 1.2^phi (the paper's alpha = 1.2, beta = 1.1), so w = 1.1 / 1.2 /
// 1.4 give about the B2 / B3 / B4 depths and narrow experts get shallower too.
// (Fused-MBConv belongs to EfficientNetV2's table, not B0's.) Not thread-safe
// (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_EFFICIENTNET_H_
#define MOE4_WORKER_MODELS_EFFICIENTNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker {

// The depth multiplier compound scaling pairs with width multiplier `width`.
double EfficientNetDepthMultiplier(double width);

// Conv (no bias) -> BN (eps 1e-3) -> optional SiLU.
class EffConvBnImpl : public torch::nn::Module {
 public:
  EffConvBnImpl(int in, int out, int kernel, int stride, int groups, bool silu);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
  bool silu_;
};
TORCH_MODULE(EffConvBn);

// Mobile inverted bottleneck with squeeze-excitation (SiLU squeeze, sigmoid
// gate, squeezed to a quarter of the block's input channels).
class MBConvImpl : public torch::nn::Module {
 public:
  MBConvImpl(int in, int out, int kernel, int stride, int expand_ratio, double drop_path);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  bool residual_;
  double drop_path_;
  EffConvBn expand_{nullptr};  // null when expand_ratio == 1
  EffConvBn depthwise_{nullptr};
  torch::nn::Conv2d se_reduce_{nullptr};
  torch::nn::Conv2d se_expand_{nullptr};
  EffConvBn project_{nullptr};
};
TORCH_MODULE(MBConv);

class EfficientNetImpl : public torch::nn::Module {
 public:
  explicit EfficientNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(EfficientNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_EFFICIENTNET_H_
