// ShuffleNet expert (ShuffleNetV2 1.0x): 3x3 s2 stem + max-pool, three stages
// (116/232/464 x width; 4/8/4 units) of units that split the channels, run
// one half through 1x1 -> 3x3 depthwise -> 1x1 and shuffle the halves back
// together (the first unit of a stage downsamples both branches), 1x1 conv to
// 1024 x width, GAP, linear. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_SHUFFLENET_H_
#define MOE4_WORKER_MODELS_SHUFFLENET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

// Interleaves the channels of `groups` groups (ShuffleNet's channel shuffle).
torch::Tensor ChannelShuffle(const torch::Tensor& x, int64_t groups);

class ShuffleUnitImpl : public torch::nn::Module {
 public:
  // `first` units take the whole input into both branches (and may stride);
  // the others split it in half.
  ShuffleUnitImpl(int in, int out, int stride, bool first);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  bool first_;
  torch::nn::Sequential left_{nullptr};  // only in first units
  torch::nn::Sequential right_{nullptr};
};
TORCH_MODULE(ShuffleUnit);

class ShuffleNetImpl : public torch::nn::Module {
 public:
  explicit ShuffleNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(ShuffleNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_SHUFFLENET_H_
