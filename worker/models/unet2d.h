// UNet2D expert, the original U-Net layout (with batch norm) at width 1.0:
// an encoder of double 3x3 conv-BN-ReLU blocks at 64/128/256/512/1024
// channels separated by 2x2 max-pools, a decoder that upsamples with 2x2
// transposed convs (halving the channels), concatenates the encoder's skip
// connection at the same resolution and applies a double conv (512, 256, 128,
// 64), then a 1x1 conv to per-pixel class scores that global average pooling
// turns into the logits.
//
// Small inputs: a DownsamplePlan drops the earliest of the four max-pools so
// the bottleneck is at least 2x2; the matching decoder step then keeps the
// resolution (a 1x1 conv halves the channels). Odd sizes: the upsampled map
// is zero-padded to its skip's size. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_UNET2D_H_
#define MOE4_WORKER_MODELS_UNET2D_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/expert_options.h"

namespace moe4::worker {

// Upsample (transposed conv, or 1x1 conv without the resolution change),
// pad to the skip, concatenate, double conv.
class UNetUpImpl : public torch::nn::Module {
 public:
  UNetUpImpl(int in, int out, bool upsample);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& skip);

 private:
  torch::nn::AnyModule up_;
  torch::nn::Sequential conv_{nullptr};
};
TORCH_MODULE(UNetUp);

class UNet2DImpl : public torch::nn::Module {
 public:
  explicit UNet2DImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::vector<bool> pooled_;  // per encoder step after the first: max-pool kept
  std::vector<torch::nn::Sequential> down_;
  std::vector<UNetUp> up_;
  torch::nn::Conv2d head_{nullptr};
};
TORCH_MODULE(UNet2D);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_UNET2D_H_
