// VGG expert, VGG-16 (configuration D) with batch norm (torchvision's
// vgg16_bn) at width 1.0: thirteen 3x3 conv-BN-ReLU layers in five blocks
// (64x2, 128x2, 256x3, 512x3, 512x3), each block closed by a 2x2 max-pool,
// then the fully-connected head Linear(512, 4096) -> ReLU -> Dropout 0.5 ->
// Linear(4096, 4096) -> ReLU -> Dropout 0.5 -> Linear(4096, classes).
// The ImageNet head's 7x7 adaptive pool would only replicate a 1x1 or 2x2 map
// 25-49 times on 28-64 px inputs (and add 90M weights), so the features are
// average-pooled to 1x1 first, as in the CIFAR adaptations.
//
// Small inputs: a DownsamplePlan drops the earliest max-pools so the last map
// is at least 2x2. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_VGG_H_
#define MOE4_WORKER_MODELS_VGG_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker {

class VGGImpl : public torch::nn::Module {
 public:
  explicit VGGImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(VGG);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_VGG_H_
