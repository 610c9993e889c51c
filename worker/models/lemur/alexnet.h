// LEMUR's AlexNet (ab/nn/nn/AlexNet.py; the index holds it at
// waleedkhalid1/nn-dataset-1 8d4abaca, the pre-`device` signature):
// torchvision's AlexNet layout. Features: 11x11 s4 p2 conv to 64, ReLU, 3x3
// s2 max-pool; 5x5 p2 conv to 192, ReLU, max-pool; 3x3 convs to 384, 256, 256
// (ReLU each), max-pool; adaptive average pool to 6x6. Classifier: dropout,
// 9216 -> 4096, ReLU, dropout, 4096 -> 4096, ReLU, 4096 -> classes, the
// dropout rate being prm['dropout'] (0.2 in the measured configuration).
// No small-input adaptation: the three unpadded max-pools need a 63-pixel
// input (LEMUR's network fails at 32x32 too). Convs and linears have biases.
// Training in LEMUR: SGD (lr, momentum), cross-entropy, gradient norm clipped
// to 3. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_ALEXNET_H_
#define MOE4_WORKER_MODELS_LEMUR_ALEXNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

class AlexNetImpl : public torch::nn::Module {
 public:
  explicit AlexNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(AlexNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_ALEXNET_H_
