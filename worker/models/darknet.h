// DarkNet expert, Darknet-19 (the YOLOv2 classifier, Redmon & Farhadi 2017):
// conv-BN-LeakyReLU(0.1) layers alternating 3x3 convs with 1x1 convs that
// halve the channels, six stages (32/64/128/256/512/1024 x width) separated
// by five 2x2 max-pools, then a 1x1 conv to the classes and global average
// pooling (no fully-connected layer). Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_DARKNET_H_
#define MOE4_WORKER_MODELS_DARKNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker {

class DarkNetImpl : public torch::nn::Module {
 public:
  explicit DarkNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Conv2d classifier_{nullptr};  // 1x1 conv with bias, before GAP
};
TORCH_MODULE(DarkNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_DARKNET_H_
