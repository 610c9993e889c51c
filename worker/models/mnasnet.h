// MNASNet expert (MNASNet-B1, torchvision's mnasnet layout): 3x3 s2 stem,
// depthwise-separable first block, six stacks of inverted-residual MBConv
// blocks (expansion 3 or 6, 3x3 or 5x5 depthwise, ReLU), 1x1 conv to 1280,
// GAP, dropout 0.2, linear. The width multiplier is MNASNet's depth
// multiplier alpha (channels rounded to multiples of 8).
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_MNASNET_H_
#define MOE4_WORKER_MODELS_MNASNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

// 1x1 expand -> kxk depthwise -> 1x1 linear projection, residual when shapes match.
class MnasBlockImpl : public torch::nn::Module {
 public:
  MnasBlockImpl(int in, int out, int kernel, int stride, int expansion);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  bool residual_;
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(MnasBlock);

class MNASNetImpl : public torch::nn::Module {
 public:
  explicit MNASNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(MNASNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_MNASNET_H_
