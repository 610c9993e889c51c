// ResNet expert, ResNet-18 at width 1.0 (the registered family): a 7x7 s2
// stem + 3x3 s2 max-pool, four stages of basic blocks (2, 2, 2, 2) at
// 64/128/256/512 channels, global average pool, linear. The constructor also
// builds ResNet-34 (basic blocks 3, 4, 6, 3) and ResNet-50/101/152
// (bottleneck blocks 1x1 -> 3x3 -> 1x1 with 4x expansion, stride on the 3x3
// as in torchvision's v1.5). Projection shortcuts are 1x1 conv + BN.
//
// Small inputs: a DownsamplePlan drops the earliest of the five reference
// halvings; without the stem's stride the stem is the CIFAR variant's 3x3 s1
// conv, and a dropped max-pool is left out.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_RESNET_H_
#define MOE4_WORKER_MODELS_RESNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

// relu(BN(conv3x3(relu(BN(conv3x3(x))))) + shortcut(x)).
class ResNetBasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int kExpansion = 1;
  ResNetBasicBlockImpl(int in, int planes, int stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ConvBnAct conv1_{nullptr};
  ConvBnAct conv2_{nullptr};
  ConvBnAct shortcut_{nullptr};  // null for the identity
};
TORCH_MODULE(ResNetBasicBlock);

// relu(1x1 reduce -> 3x3 (stride) -> 1x1 expand to 4 * planes, + shortcut).
class ResNetBottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int kExpansion = 4;
  ResNetBottleneckImpl(int in, int planes, int stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ConvBnAct conv1_{nullptr};
  ConvBnAct conv2_{nullptr};
  ConvBnAct conv3_{nullptr};
  ConvBnAct shortcut_{nullptr};
};
TORCH_MODULE(ResNetBottleneck);

class ResNetImpl : public torch::nn::Module {
 public:
  // depth: 18 (default, the registered family), 34, 50, 101 or 152; throws
  // std::invalid_argument otherwise.
  explicit ResNetImpl(const ExpertOptions& options, int depth = 18);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential stem_{nullptr};
  torch::nn::Sequential stages_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(ResNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_RESNET_H_
