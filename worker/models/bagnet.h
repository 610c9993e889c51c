// BagNet expert: a bottleneck ResNet whose units see small image patches —
// mostly 1x1 convolutions, a 3x3 only in the first unit of stages 1-3
// (BagNet-17 style), four stages of three units (64/128/256/512 x width, 4x
// expansion). Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_BAGNET_H_
#define MOE4_WORKER_MODELS_BAGNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

// 1x1 reduce -> kxk (k = 1 or 3) -> 1x1 expand, plus an identity/projection.
class BagNetUnitImpl : public torch::nn::Module {
 public:
  BagNetUnitImpl(int in, int mid, int out, int kernel, int stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ConvBnAct reduce_{nullptr};
  ConvBnAct spatial_{nullptr};
  ConvBnAct expand_{nullptr};
  ConvBnAct shortcut_{nullptr};  // null when the shapes already match
};
TORCH_MODULE(BagNetUnit);

class BagNetImpl : public torch::nn::Module {
 public:
  explicit BagNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential stem_{nullptr};
  torch::nn::Sequential stages_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(BagNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_BAGNET_H_
