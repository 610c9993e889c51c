// LEMUR's VGG (ab/nn/nn/VGG.py; the index holds it at waleedkhalid1/nn-dataset-1
// 4ac53ab5, the pre-`device` signature): torchvision's VGG with configuration
// "A" (VGG-11) and batch_norm=False. Features: 3x3 p1 convs (with biases) and
// ReLUs, 64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M (M = 2x2 s2
// max-pool); adaptive average pool to 7x7 (so the first linear is always
// 25,088 x 4,096, whatever the input size); classifier 25088 -> 4096, ReLU,
// dropout, 4096 -> 4096, ReLU, dropout, 4096 -> classes, dropout rate
// prm['dropout'] (0.2 in the measured configuration). The file's init is
// ported: convs Kaiming-normal (fan_out, ReLU) with zero bias, linears
// N(0, 0.01) with zero bias. No small-input adaptation: the five max-pools
// need a 32-pixel input (LEMUR's network fails at 28x28).
// Training in LEMUR: SGD (lr, momentum), cross-entropy, gradient norm clipped
// to 3. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_VGG_H_
#define MOE4_WORKER_MODELS_LEMUR_VGG_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

class VGGImpl : public torch::nn::Module {
 public:
  explicit VGGImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(VGG);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_VGG_H_
