// MobileNetV2 expert (width 1.0 = the paper's 1.0 model): 3x3 s2 stem (32),
// seventeen inverted residual blocks from the paper's table (t, c, n, s):
// (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2)
// (6,320,1,1), a 1x1 conv to 1280, GAP, dropout 0.2, linear. A block expands
// with a 1x1 conv (ReLU6), filters with a 3x3 depthwise conv (ReLU6) and
// projects back with a linear 1x1 bottleneck (no activation); the residual
// joins when stride is 1 and the widths match. As in the paper, widths below
// 1.0 do not shrink the last 1280-channel conv.
//
// Small inputs: a DownsamplePlan drops the earliest of the five halvings.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_MOBILENET_V2_H_
#define MOE4_WORKER_MODELS_MOBILENET_V2_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

class MobileV2BlockImpl : public torch::nn::Module {
 public:
  MobileV2BlockImpl(int in, int out, int stride, int expansion);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  bool residual_;
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(MobileV2Block);

class MobileNetV2Impl : public torch::nn::Module {
 public:
  explicit MobileNetV2Impl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(MobileNetV2);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_MOBILENET_V2_H_
