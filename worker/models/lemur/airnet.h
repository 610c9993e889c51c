// LEMUR's AirNet (ab/nn/nn/AirNet.py, read at sairevanth0007/nn-dataset
// 362ac929, the only copy of the file the index holds): despite the name, no
// attention branch at all. A 3x3 s2 conv-BN-ReLU stem to 64 channels, then ONE
// plain residual unit per stage (64/128/256/512; 3x3 conv-BN-ReLU, 3x3
// conv-BN, identity or 1x1 s2 conv-BN projection, ReLU after the sum), the
// first at stride 1 and the others at stride 2; global average pool, linear.
// Quirks kept: the unit's 3x3 convs and the stem have biases (PyTorch's
// default) although a BN follows each; the projection conv has none.
// Training in LEMUR: SGD (lr, momentum), cross-entropy, gradient norm
// clipped to 3. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_AIRNET_H_
#define MOE4_WORKER_MODELS_LEMUR_AIRNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// LEMUR's AirUnit: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
class AirUnitImpl : public torch::nn::Module {
 public:
  // `project`: a 1x1 conv-BN shortcut (LEMUR: stride != 1 or in != out).
  AirUnitImpl(int in, int out, int stride, bool project);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Conv2d shortcut_conv_{nullptr};  // null for the identity shortcut
  torch::nn::BatchNorm2d shortcut_bn_{nullptr};
};
TORCH_MODULE(AirUnit);

class AirNetImpl : public torch::nn::Module {
 public:
  explicit AirNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  torch::nn::Sequential units_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(AirNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_AIRNET_H_
