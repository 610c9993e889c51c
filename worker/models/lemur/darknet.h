// LEMUR's DarkNet (ab/nn/nn/DarkNet.py). The index holds no copy under that
// path; the port follows the LEMUR-format copy it returns for "class
// DarkNetUnit" (the pre-`device` signature, repository not named by the
// index), whose counts equal LEMUR's measured ones exactly at both shapes.
// Four stages of three conv-BN-LeakyReLU(0.1) units (64/128/256/512; in each
// stage 1x1, 3x3 p1, 1x1: odd units pointwise), a 2x2 s2 max-pool after each
// stage but the last; the head is a 1x1 conv (with bias) to the classes,
// LeakyReLU(0.1) on the logits themselves, global average pool. Unit convs
// have no bias. Explicit init ported: every conv weight Kaiming-uniform
// (fan-in, leaky_relu gain with a = 0), conv biases zero.
// Training in that copy: SGD (lr, momentum), cross-entropy, no clipping.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_DARKNET_H_
#define MOE4_WORKER_MODELS_LEMUR_DARKNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// LEMUR's DarkNetUnit: conv (1x1, or 3x3 p1) -> BN -> LeakyReLU(0.1).
class DarkNetUnitImpl : public torch::nn::Module {
 public:
  DarkNetUnitImpl(int in, int out, bool pointwise);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(DarkNetUnit);

class DarkNetImpl : public torch::nn::Module {
 public:
  explicit DarkNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Conv2d output_{nullptr};
};
TORCH_MODULE(DarkNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_DARKNET_H_
