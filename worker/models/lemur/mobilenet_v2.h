// LEMUR's MobileNetV2 (ab/nn/nn/MobileNetV2.py; the index holds no copy under
// that name, so this follows sairevanth0007/nn-dataset 8e1882d3,
// ab/nn/nn/MobileNetV2-6e1fa782-bb40-4cb0-b5ac-c363c3694a49.py, which builds
// the network whose count shared/LEMUR.md records): torchvision's MobileNetV2
// at width 1.0. A 3x3 s2 conv-BN-ReLU6 stem to 32; inverted residuals
// (t, c, n, s) = (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1)
// (6,160,3,2) (6,320,1,1): optional 1x1 expansion conv-BN-ReLU6, 3x3
// depthwise conv-BN-ReLU6, linear 1x1 projection conv-BN, identity added
// when stride 1 and in == out; 1x1 conv-BN-ReLU6 to 1280; global average
// pool; dropout (prm['dropout'], 0.2 in the measured configuration), linear.
// Convs have no bias. The file's init is ported: convs Kaiming-normal
// (fan_out), BN 1/0, the linear N(0, 0.01) with zero bias. Padded
// throughout, so it takes any input the registry accepts.
// Training in LEMUR: SGD (lr, momentum), cross-entropy, gradient norm clipped
// to 3. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_MOBILENET_V2_H_
#define MOE4_WORKER_MODELS_LEMUR_MOBILENET_V2_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// torchvision's MobileNetV2 InvertedResidual.
class MobileNetV2BlockImpl : public torch::nn::Module {
 public:
  // `residual`: add the input (torchvision: stride 1 and in == out).
  MobileNetV2BlockImpl(int in, int out, int stride, int expand_ratio, bool residual);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential conv_{nullptr};
  bool residual_;
};
TORCH_MODULE(MobileNetV2Block);

class MobileNetV2Impl : public torch::nn::Module {
 public:
  explicit MobileNetV2Impl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(MobileNetV2);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_MOBILENET_V2_H_
