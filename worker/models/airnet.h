// AirNet expert: 3x3 s2 stem, four stages of basic residual units
// (64/128/256/512 x width, two units each), global average pool, linear.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_AIRNET_H_
#define MOE4_WORKER_MODELS_AIRNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

// conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus an identity or 1x1 projection.
class AirNetUnitImpl : public torch::nn::Module {
 public:
  AirNetUnitImpl(int in, int out, int stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ConvBnAct conv1_{nullptr};
  ConvBnAct conv2_{nullptr};
  ConvBnAct shortcut_{nullptr};  // null when the shapes already match
};
TORCH_MODULE(AirNetUnit);

class AirNetImpl : public torch::nn::Module {
 public:
  explicit AirNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ConvBnAct stem_{nullptr};
  torch::nn::Sequential stages_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(AirNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_AIRNET_H_
