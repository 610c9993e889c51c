// SqueezeNet-1 expert, SqueezeNet 1.0 (the paper's model) at width 1.0:
// conv1 7x7 s2 (96) -> max-pool -> fire2..fire4 -> max-pool -> fire5..fire8
// -> max-pool -> fire9 -> dropout 0.5 -> 1x1 conv to the classes -> ReLU ->
// global average pool. A Fire module squeezes with 1x1 convs and expands with
// parallel 1x1 and 3x3 convs whose outputs are concatenated; squeeze/expand
// widths (16/64, 16/64, 32/128, 32/128, 48/192, 48/192, 64/256, 64/256) are
// the paper's. No batch norm, as in the paper; initialised like torchvision
// (fan-in Kaiming, the classifier conv at N(0, 0.01)).
//
// Small inputs: a DownsamplePlan drops the earliest of the four halvings; an
// unstrided stem is a 3x3 conv. Max-pools are 3x3/2 with ceil mode, as in
// the reference. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_SQUEEZENET_H_
#define MOE4_WORKER_MODELS_SQUEEZENET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker {

// relu(1x1 squeeze) -> cat(relu(1x1 expand), relu(3x3 expand)).
class FireModuleImpl : public torch::nn::Module {
 public:
  FireModuleImpl(int in, int squeeze, int expand1x1, int expand3x3);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d squeeze_{nullptr};
  torch::nn::Conv2d expand1x1_{nullptr};
  torch::nn::Conv2d expand3x3_{nullptr};
};
TORCH_MODULE(FireModule);

class SqueezeNetImpl : public torch::nn::Module {
 public:
  explicit SqueezeNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Conv2d classifier_{nullptr};
};
TORCH_MODULE(SqueezeNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_SQUEEZENET_H_
