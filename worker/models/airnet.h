// AirNet expert (Yang et al., "Attention Inspiring Receptive-Fields Network
// for Learning Invariant Representations", IEEE TNNLS 2019): a residual
// network whose units carry the "air" spatial-attention branch. A 3x3 s2
// stem, four stages of basic residual units (64/128/256/512 x width, two
// units each; the first unit of stages 2-4 downsamples in the reference
// design), global average pool, linear. A unit is conv3x3-BN-ReLU ->
// conv3x3-BN, multiplied by the air gate, plus an identity or 1x1 projection,
// ReLU after the sum. The air gate (AirBlock, shared with AirNext) is computed
// from the unit's input: 1x1 (to half the unit's width) -> 3x3 s2 max-pool ->
// 3x3 -> bilinear upsample back -> 1x1 -> BN -> sigmoid. As in the paper's
// AirNet-50/101, only units that keep the resolution in the reference design
// and are narrower than 512 carry it: both units of stage 1 and the second of
// stages 2 and 3. The air branches make it a different network from ResNet
// (ResNet-18 also differs in its 7x7 stem and max-pool).
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_AIRNET_H_
#define MOE4_WORKER_MODELS_AIRNET_H_

#include <torch/torch.h>

#include "worker/models/airnext.h"
#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

// conv3x3 -> BN -> ReLU -> conv3x3 -> BN (x air gate), plus an identity or
// 1x1 projection, ReLU.
class AirNetUnitImpl : public torch::nn::Module {
 public:
  AirNetUnitImpl(int in, int out, int stride, bool use_air);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ConvBnAct conv1_{nullptr};
  ConvBnAct conv2_{nullptr};
  AirBlock air_{nullptr};        // null for downsampling units and the last stage
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
