// AlexNet expert: 11x11/4 stem, five convs with max-pools, adaptive pool to
// 6x6, two fully-connected layers (4096 x width) with dropout. On small inputs
// the stride-4 stem becomes 5x5/2 or 3x3/1 (see DownsamplePlan).
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_ALEXNET_H_
#define MOE4_WORKER_MODELS_ALEXNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker {

class AlexNetImpl : public torch::nn::Module {
 public:
  explicit AlexNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(AlexNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_ALEXNET_H_
