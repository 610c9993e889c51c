// LEMUR's AirNext (ab/nn/nn/AirNext.py; the index holds it at
// waleedkhalid1/nn-dataset-1 8d4abaca, the pre-`device` signature, and an
// identical generated copy in sairevanth0007/nn-dataset 8e1882d3): a 7x7 s2
// conv-BN-ReLU stem to 64 and a 3x3 s2 max-pool, then four stages of three
// ResNeXt-style units (outputs 64/128/256/512, the first unit of stages 2-4
// at stride 2), global average pool, linear. A unit is 1x1 -> grouped 3x3
// (cardinality 32, width 32 * floor(out/4 * 4/64)) -> 1x1, plus the identity
// or a 1x1 (stride) projection, ReLU after the sum. Every stride-1 unit
// multiplies the grouped conv's output by an "air" gate computed from the
// unit's input: 1x1-BN-ReLU (to half the group width) -> 3x3 s2 max-pool ->
// 3x3 conv (16 groups)-BN-ReLU -> bilinear x2 (align_corners) -> 1x1-BN ->
// sigmoid, then bilinearly resized to the input's size.
// Quirks kept: the unit's own convs have no BN and no activation between
// them (only the air gate has BNs); no conv has a bias.
// Training in LEMUR: Adam (lr, weight decay 1e-4), StepLR (step 5 epochs,
// gamma 0.5), cross-entropy, gradient norm clipped to 3.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_AIRNEXT_H_
#define MOE4_WORKER_MODELS_LEMUR_AIRNEXT_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// LEMUR's AirBlock: a [B, out, ~H, ~W] gate in (0, 1) (an even side: the
// caller resizes it to the input's).
class AirBlockImpl : public torch::nn::Module {
 public:
  AirBlockImpl(int in, int out, int groups, int mid);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Conv2d conv3_{nullptr};
  torch::nn::BatchNorm2d bn3_{nullptr};
};
TORCH_MODULE(AirBlock);

// LEMUR's AirNeXtUnit.
class AirNeXtUnitImpl : public torch::nn::Module {
 public:
  // `air_mid` > 0 adds the air gate with that many middle channels and
  // `air_groups` groups; `project` adds the 1x1 projection shortcut.
  AirNeXtUnitImpl(int in, int out, int group_width, int cardinality, int stride, int air_mid, int air_groups,
                  bool project);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::Conv2d conv3_{nullptr};
  AirBlock air_{nullptr};                     // null for the stride-2 units
  torch::nn::Conv2d identity_conv_{nullptr};  // null for the identity shortcut
};
TORCH_MODULE(AirNeXtUnit);

class AirNextImpl : public torch::nn::Module {
 public:
  explicit AirNextImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  torch::nn::Sequential units_{nullptr};
  torch::nn::Linear output_{nullptr};
};
TORCH_MODULE(AirNext);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_AIRNEXT_H_
