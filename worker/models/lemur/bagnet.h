// LEMUR's BagNet (ab/nn/nn/BagNet.py; the index holds it at
// waleedkhalid1/nn-dataset-1 8d4abaca, the pre-`device` signature): a 7x7 s2
// conv-BN-ReLU stem to 64 and a 3x3 s2 p1 max-pool, four stages of three
// bottleneck units (outputs 64/128/256/512, middle width out/4, the first
// unit of stages 2-4 at stride 2), global average pool, linear.
// Quirks kept: every unit's middle conv is 3x3 (LEMUR passes kernel_size=3
// to all of them, so this is not a bag of small receptive fields); in a unit
// only that 3x3 has a BN (1x1 -> ReLU -> 3x3 -> BN -> ReLU -> 1x1, no conv
// bias); the projection shortcut is a bias-free 1x1 conv WITHOUT stride or
// BN, so at a stride-2 unit the shortcut is bilinearly resized
// (align_corners false) to the body's size before the sum; ReLU after it.
// Training in LEMUR: SGD (lr, momentum), cross-entropy, gradient norm clipped
// to 3; train_setup builds a dropout layer that nothing uses.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_BAGNET_H_
#define MOE4_WORKER_MODELS_LEMUR_BAGNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// LEMUR's BagNetUnit (with its BagNetBottleneck body inlined).
class BagNetUnitImpl : public torch::nn::Module {
 public:
  BagNetUnitImpl(int in, int mid, int out, int stride, bool project);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Conv2d conv3_{nullptr};
  torch::nn::Conv2d identity_conv_{nullptr};  // null for the identity shortcut
};
TORCH_MODULE(BagNetUnit);

class BagNetImpl : public torch::nn::Module {
 public:
  explicit BagNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  torch::nn::Sequential units_{nullptr};
  torch::nn::Linear output_{nullptr};
};
TORCH_MODULE(BagNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_BAGNET_H_
