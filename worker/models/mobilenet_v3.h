// MobileNetV3 expert (Large): 3x3 s2 hard-swish stem, fifteen inverted
// residual blocks with optional squeeze-excitation (hard-sigmoid) and ReLU or
// hard-swish, 1x1 conv to 6x the last width, GAP, Linear(1280 x width) +
// hard-swish + dropout 0.2, linear. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_MOBILENET_V3_H_
#define MOE4_WORKER_MODELS_MOBILENET_V3_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

// [1x1 expand] -> kxk depthwise -> [SE] -> 1x1 linear projection (+ residual).
class MobileV3BlockImpl : public torch::nn::Module {
 public:
  MobileV3BlockImpl(int in, int expanded, int out, int kernel, int stride, bool se, Activation act);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  bool residual_;
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(MobileV3Block);

class MobileNetV3Impl : public torch::nn::Module {
 public:
  explicit MobileNetV3Impl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear hidden_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(MobileNetV3);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_MOBILENET_V3_H_
