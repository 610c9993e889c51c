// LEMUR's ShuffleNet (ab/nn/nn/ShuffleNet.py): the index holds no copy of the
// file, so this port follows what it wraps, torchvision 0.14's
// shufflenetv2.py (read at pytorch/vision 0248e364) as shufflenet_v2_x1_0
// with the input channels from in_shape[1]; shared/LEMUR.md's counts
// (1,263,854 at 3x32x32, 1,263,422 at 1x28x28) are exactly that network's.
// A 3x3 s2 conv-BN-ReLU stem to 24, 3x3 s2 p1 max-pool; stages of 4, 8 and 4
// units (116/232/464 channels): the first unit of each at stride 2 (both
// branches: 3x3 depthwise conv-BN, 1x1 conv-BN-ReLU; and 1x1 conv-BN-ReLU,
// 3x3 depthwise conv-BN, 1x1 conv-BN-ReLU), the others split the channels in
// half and transform one half; concatenation, then a channel shuffle of 2
// groups. 1x1 conv-BN-ReLU to 1024, global mean, linear. Convs have no bias;
// torchvision's defaults are the only init. Padded throughout, so it takes
// any input the registry accepts.
// Training in LEMUR (its common recipe): SGD (lr, momentum), cross-entropy,
// gradient norm clipped to 3. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_SHUFFLENET_H_
#define MOE4_WORKER_MODELS_LEMUR_SHUFFLENET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// torchvision's ShuffleNetV2 InvertedResidual.
class ShuffleNetUnitImpl : public torch::nn::Module {
 public:
  // `out` is even; at stride 1, `in` == `out`.
  ShuffleNetUnitImpl(int in, int out, int stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int stride_;
  torch::nn::Sequential branch1_{nullptr};  // null at stride 1 (the half passes through)
  torch::nn::Sequential branch2_{nullptr};
};
TORCH_MODULE(ShuffleNetUnit);

class ShuffleNetImpl : public torch::nn::Module {
 public:
  explicit ShuffleNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential conv1_{nullptr};
  torch::nn::MaxPool2d maxpool_{nullptr};
  torch::nn::Sequential stages_{nullptr};
  torch::nn::Sequential conv5_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(ShuffleNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_SHUFFLENET_H_
