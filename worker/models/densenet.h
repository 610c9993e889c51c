// DenseNet expert, DenseNet-121 layout: 7x7 s2 stem + max-pool, dense blocks
// of 6/12/24/16 layers (growth 32 x width, 4x bottleneck) joined by
// transitions (1x1 conv halving channels + 2x2 average pool), BN-ReLU, GAP,
// linear. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_DENSENET_H_
#define MOE4_WORKER_MODELS_DENSENET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker {

// BN-ReLU-1x1 (bottleneck) -> BN-ReLU-3x3 (growth); returns only new features.
class DenseLayerImpl : public torch::nn::Module {
 public:
  DenseLayerImpl(int in, int growth, int bottleneck);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
};
TORCH_MODULE(DenseLayer);

// Each layer sees the concatenation of the block input and all earlier layers.
class DenseBlockImpl : public torch::nn::Module {
 public:
  DenseBlockImpl(int layers, int in, int growth, int bottleneck);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::ModuleList layers_{nullptr};
};
TORCH_MODULE(DenseBlock);

class DenseNetImpl : public torch::nn::Module {
 public:
  explicit DenseNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(DenseNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_DENSENET_H_
