// LEMUR's SqueezeNet-1 (ab/nn/nn/SqueezeNet-1.py; the index holds it at
// waleedkhalid1/nn-dataset-1 8d4abaca, the pre-`device` signature):
// torchvision's SqueezeNet version "1_0". Features: 7x7 s2 unpadded conv to
// 96, ReLU, 3x3 s2 max-pool (ceil mode); Fire(16, 64+64), Fire(16, 64+64),
// Fire(32, 128+128), max-pool; Fire(32, 128+128), Fire(48, 192+192),
// Fire(48, 192+192), Fire(64, 256+256), max-pool; Fire(64, 256+256).
// Classifier: dropout (prm['dropout'], 0.2 in the measured configuration),
// 1x1 conv 512 -> classes, ReLU, global average pool: the logits are
// non-negative (a ReLU before the pool), as in LEMUR. Every conv has a bias.
// The file's init is ported: the final conv N(0, 0.01), the others
// Kaiming-uniform, all biases zero. No small-input adaptation: the unpadded
// stem and the ceil-mode pools need a 21-pixel input.
// Training in LEMUR: SGD (lr, momentum), cross-entropy, gradient norm clipped
// to 3. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_SQUEEZENET_H_
#define MOE4_WORKER_MODELS_LEMUR_SQUEEZENET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// A Fire module: 1x1 squeeze conv + ReLU, then 1x1 and 3x3 (p1) expand convs,
// each + ReLU, concatenated along channels.
class SqueezeNetFireImpl : public torch::nn::Module {
 public:
  SqueezeNetFireImpl(int in, int squeeze, int expand1x1, int expand3x3);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d squeeze_{nullptr};
  torch::nn::Conv2d expand1x1_{nullptr};
  torch::nn::Conv2d expand3x3_{nullptr};
};
TORCH_MODULE(SqueezeNetFire);

class SqueezeNetImpl : public torch::nn::Module {
 public:
  explicit SqueezeNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(SqueezeNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_SQUEEZENET_H_
