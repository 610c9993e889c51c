// LEMUR's EfficientNet (ab/nn/nn/EfficientNet.py): torchvision 0.14's
// EfficientNet class with the B0 table built in. The index holds neither the
// sairevanth0007 fork's copy at 6a267aec nor ABrain-One's; the port follows the
// same class as LEMUR embeds it verbatim in its generated files: the variant
// sairevanth0007/nn-dataset ab/nn/nn/EfficientNet-a5a1fdee-...py (8e1882d) and
// the "EXPERT 4: EfficientNet" of yLukhi/nn-dataset ab/nn/nn/MoE4-4578437d...py
// (4fc7d48); the counts equal LEMUR's measured ones (4,020,358 at 3x32x32).
// Layout: 3x3/2 stem conv to 32 (BN, SiLU); seven MBConv stages
// (expand, kernel, stride, out, repeats) = (1,3,1,16,1) (6,3,2,24,2)
// (6,5,2,40,2) (6,3,2,80,3) (6,5,1,112,3) (6,5,2,192,4) (6,3,1,320,1), each
// block 1x1 expand (skipped at ratio 1) -> depthwise kxk -> squeeze-excitation
// (SiLU, to max(1, in/4) channels, biased 1x1 convs) -> 1x1 project (no
// activation), residual with row-wise stochastic depth when shapes match;
// 1x1 head conv to 4 x 320 = 1280 (BN, SiLU), global average pool, dropout
// prm['dropout'] = 0.2, linear.
//
// Quirks: the stochastic-depth rate is LEMUR's hard-coded 0.2 (not
// prm['stochastic_depth_prob']), ramped linearly over the 16 blocks
// (block i drops with 0.2 x i / 16); BatchNorm keeps PyTorch's defaults
// (eps 1e-5, momentum 0.1), not the TF-style ones. All convs are "same"-padded
// and the pools adaptive, so any input side works (min 8, the registry's floor).
// Explicit init ported: fan-out Kaiming-normal convs with zero biases, linear
// weights uniform in +-1/sqrt(classes) with zero bias.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_EFFICIENTNET_H_
#define MOE4_WORKER_MODELS_LEMUR_EFFICIENTNET_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// torchvision's Conv2dNormActivation as EfficientNet uses it: kxk conv
// (padding (k-1)/2, no bias) -> BatchNorm -> SiLU unless `activate` is false.
class EfficientNetConvImpl : public torch::nn::Module {
 public:
  EfficientNetConvImpl(int in, int out, int kernel, int stride, int groups, bool activate);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
  bool activate_;
};
TORCH_MODULE(EfficientNetConv);

// Squeeze-excitation: global pool -> 1x1 conv -> SiLU -> 1x1 conv -> sigmoid
// gate on the input's channels.
class EfficientNetSqueezeExcitationImpl : public torch::nn::Module {
 public:
  EfficientNetSqueezeExcitationImpl(int channels, int squeeze_channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d fc1_{nullptr};
  torch::nn::Conv2d fc2_{nullptr};
};
TORCH_MODULE(EfficientNetSqueezeExcitation);

class EfficientNetMBConvImpl : public torch::nn::Module {
 public:
  EfficientNetMBConvImpl(int in, int out, int expand_ratio, int kernel, int stride, double drop_prob);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  EfficientNetConv expand_{nullptr};  // null at expand ratio 1
  EfficientNetConv depthwise_{nullptr};
  EfficientNetSqueezeExcitation se_{nullptr};
  EfficientNetConv project_{nullptr};
  bool residual_;
  double drop_prob_;  // stochastic depth, per example ("row" mode)
};
TORCH_MODULE(EfficientNetMBConv);

class EfficientNetImpl : public torch::nn::Module {
 public:
  explicit EfficientNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  EfficientNetConv stem_{nullptr};
  std::vector<EfficientNetMBConv> blocks_;
  EfficientNetConv head_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(EfficientNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_EFFICIENTNET_H_
