// LEMUR's MNASNet (ab/nn/nn/MNASNet.py; the sairevanth0007 fork at 6a267aec
// is not in the index; read at waleedkhalid1/nn-dataset-1
// 4ac53ab56482bf45ba6859ec5cb3c2c5285f2e60, whose layers LEMUR's measured
// counts confirm): torchvision's MNASNet (version 2 stem) at the depth
// multiplier alpha = 0.75, which LEMUR hard-codes. Depths are the B1 table
// 32/16/24/40/80/96/192/320 times 0.75 rounded to multiples of 8 (with
// torchvision's 0.9 round-up bias): 24/16/24/32/64/72/144/240. Stem: 3x3/2
// conv, depthwise 3x3, 1x1 to 16 (BN after each, ReLU after the first two);
// six stacks of inverted residuals (1x1 expand, depthwise kxk, 1x1 project,
// identity skip when shapes match) with (kernel, stride, expansion, repeats)
// = (3,2,3,3) (5,2,3,3) (5,2,6,3) (3,1,6,2) (5,2,6,4) (3,1,6,1); 1x1 conv to
// 1280 + BN + ReLU; spatial mean; dropout prm['dropout'] = 0.2; linear.
//
// Quirks: every BatchNorm uses momentum 1 - 0.9997 = 0.0003 (TF's decay),
// eps 1e-5; the stem and head widths are not multiplied by alpha beyond the
// table (1280 stays). All convs are padded k/2, so any input side works
// (min 8, the registry's floor). Explicit init ported: fan-out Kaiming-normal
// (ReLU gain) conv weights; linear weight fan-out Kaiming-uniform with gain 1
// ("sigmoid"), zero bias.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_MNASNET_H_
#define MOE4_WORKER_MODELS_LEMUR_MNASNET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// 1x1 expand -> BN -> ReLU -> depthwise kxk -> BN -> ReLU -> 1x1 -> BN,
// plus the input when stride is 1 and the channels match.
class MNASNetInvertedResidualImpl : public torch::nn::Module {
 public:
  MNASNetInvertedResidualImpl(int in, int out, int kernel, int stride, int expansion);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential layers_{nullptr};
  bool residual_;
};
TORCH_MODULE(MNASNetInvertedResidual);

class MNASNetImpl : public torch::nn::Module {
 public:
  explicit MNASNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential layers_{nullptr};  // stem, stacks, head conv
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(MNASNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_MNASNET_H_
