// LEMUR's RegNet (ab/nn/nn/RegNet.py; the index holds it at
// waleedkhalid1/nn-dataset-1 8d4abaca, the pre-`device` signature):
// torchvision's RegNet built from BlockParams.from_init_params(depth 16,
// w_0 48, w_a 27.89, w_m 2.09, group_width 8, se_ratio 0.25), i.e.
// RegNetY-400MF: stage widths 48/104/208/440, depths 1/3/6/6, every stage's
// first block at stride 2. A 3x3 s2 conv-BN-ReLU stem to 32; Y blocks: 1x1
// conv-BN-ReLU, 3x3 grouped conv-BN-ReLU (group width 8), squeeze-excitation
// (1x1 convs with bias, ReLU, Sigmoid), 1x1 conv-BN; a 1x1 conv-BN projection
// when the width or stride changes; ReLU after the sum. Global average pool,
// linear. Quirk kept (torchvision's): the SE bottleneck is 0.25 x the block's
// INPUT width, not of the width it squeezes. BN is PyTorch's default (eps
// 1e-5, momentum 0.1). The stage table is derived at construction with the
// file's own quantisation (LibTorch ops, as LEMUR's torch ops). The file's
// init is ported: convs N(0, sqrt(2 / (k*k*out))) (biases keep their
// default), BN 1/0, the linear N(0, 0.01) with zero bias. Padded throughout,
// so it takes any input the registry accepts.
// Training in LEMUR: SGD (lr, momentum), cross-entropy, gradient norm clipped
// to 3. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_REGNET_H_
#define MOE4_WORKER_MODELS_LEMUR_REGNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// torchvision's SqueezeExcitation with ReLU and Sigmoid: global average
// pool, 1x1 conv (bias), ReLU, 1x1 conv (bias), Sigmoid; scales the input.
class RegNetSqueezeExcitationImpl : public torch::nn::Module {
 public:
  RegNetSqueezeExcitationImpl(int channels, int squeeze);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d fc1_{nullptr};
  torch::nn::Conv2d fc2_{nullptr};
};
TORCH_MODULE(RegNetSqueezeExcitation);

// torchvision's ResBottleneckBlock (bottleneck multiplier 1, with SE).
class RegNetBlockImpl : public torch::nn::Module {
 public:
  // `project`: a 1x1 conv-BN shortcut (width or stride changes).
  RegNetBlockImpl(int in, int out, int stride, int group_width, bool project);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential proj_{nullptr};  // null for the identity shortcut
  torch::nn::Sequential f_{nullptr};
};
TORCH_MODULE(RegNetBlock);

class RegNetImpl : public torch::nn::Module {
 public:
  explicit RegNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential stem_{nullptr};
  torch::nn::Sequential trunk_output_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(RegNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_REGNET_H_
