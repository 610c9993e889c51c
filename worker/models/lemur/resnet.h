// LEMUR's ResNet (ab/nn/nn/ResNet.py; read at yLukhi/nn-dataset 6f61ca90, and
// u-shrestha/nn-dataset 7855c57f builds the same network): torchvision's
// ResNet-18. A 7x7 s2 p3 conv to 64 (no bias), BN, ReLU, 3x3 s2 p1 max-pool;
// four stages of two basic blocks (64/128/256/512, the first block of stages
// 2-4 at stride 2 with a 1x1 conv-BN projection; 3x3 convs without bias);
// global average pool, linear. The file's init is ported: convs
// Kaiming-normal (fan_out, ReLU); BN weight 1, bias 0 (LibTorch's default
// too); the linear keeps PyTorch's default init. Padded throughout, so it
// takes any input the registry accepts.
// Training in LEMUR: SGD (lr, momentum), cross-entropy, gradient norm clipped
// to 3 (these newer copies also offer an optional mixup-style batch
// transform when prm['augment'] is set; not part of the measured
// configuration). Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_RESNET_H_
#define MOE4_WORKER_MODELS_LEMUR_RESNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
class ResNetBasicBlockImpl : public torch::nn::Module {
 public:
  // `project`: a 1x1 conv-BN shortcut (stride != 1 or in != out).
  ResNetBasicBlockImpl(int in, int out, int stride, bool project);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Sequential downsample_{nullptr};  // null for the identity shortcut
};
TORCH_MODULE(ResNetBasicBlock);

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::MaxPool2d maxpool_{nullptr};
  torch::nn::Sequential layers_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(ResNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_RESNET_H_
