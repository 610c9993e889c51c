// AirNext expert, AirNeXt-50 (32x4d, ratio 2) at width 1.0 (Yang et al.,
// "Attention Inspiring Receptive-Fields Network", 2019): a three-conv 3x3 stem
// (the first s2) and a 3x3 s2 max-pool, then ResNeXt bottleneck units in four
// stages of 3/4/6/3 (outputs 256/512/1024/2048 x width; cardinality 32, 4
// channels per group in stage 1 doubling per stage), GAP, linear. Units that
// keep the resolution in stages 1-3 add the "air" branch: 1x1 -> 3x3 s2
// max-pool -> grouped 3x3 -> bilinear upsample -> 1x1 -> BN -> sigmoid, a
// gate on the grouped conv's output. The width multiplier scales channels
// per group; the cardinality stays 32. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_AIRNEXT_H_
#define MOE4_WORKER_MODELS_AIRNEXT_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

// The attention branch: computes a [B, out, H, W] gate in (0, 1) from the
// unit's input at a halved resolution. Shared with AirNet (groups = 1).
class AirBlockImpl : public torch::nn::Module {
 public:
  AirBlockImpl(int in, int out, int groups, int ratio);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ConvBnAct reduce_{nullptr};   // 1x1 -> out / ratio
  ConvBnAct grouped_{nullptr};  // grouped 3x3 at half resolution
  torch::nn::Conv2d expand_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(AirBlock);

// 1x1 -> grouped 3x3 (x air gate) -> 1x1, plus identity or 1x1 projection.
class AirNextUnitImpl : public torch::nn::Module {
 public:
  AirNextUnitImpl(int in, int out, int group_width, int cardinality, int stride, bool use_air);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ConvBnAct conv1_{nullptr};
  ConvBnAct conv2_{nullptr};
  ConvBnAct conv3_{nullptr};
  AirBlock air_{nullptr};        // null for downsampling units and the last stage
  ConvBnAct shortcut_{nullptr};  // null when the shapes already match
};
TORCH_MODULE(AirNextUnit);

class AirNextImpl : public torch::nn::Module {
 public:
  explicit AirNextImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(AirNext);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_AIRNEXT_H_
