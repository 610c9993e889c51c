// LEMUR's ICNet (ab/nn/nn/ICNet.py; read at sairevanth0007/nn-dataset
// 362ac929b53cc6a49f64bfb1d9f7e60b8cf8260f, the index's version of that fork;
// the same classes appear unchanged in later ABrain-One MoE files). Not the
// cascade of the ICNet paper: one branch only. An init block of three 3x3 s2
// convs (32, 32, 64 channels, with bias, ReLU after each), a pyramid-pooling
// block (adaptive average pools to 1, 2, 3 and 6 bins, each a 1x1 conv to 16
// channels without bias, bilinearly upsampled back, concatenated with the
// input, a 1x1 conv back to 64 without bias, ReLU), a 1x1 head conv to 128
// (with bias, no activation), global average pool, linear.
//
// Quirks kept: the head conv has no activation before the pool; adaptive pools
// to 6 bins upsample small maps (a 32x32 input leaves 4x4), so any input side
// works. No explicit init. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_ICNET_H_
#define MOE4_WORKER_MODELS_LEMUR_ICNET_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// Three 3x3 s2 convs with ReLU: in -> out/2 -> out/2 -> out.
class ICNetInitBlockImpl : public torch::nn::Module {
 public:
  ICNetInitBlockImpl(int in, int out);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::Conv2d conv3_{nullptr};
};
TORCH_MODULE(ICNetInitBlock);

// Pyramid pooling: per bin count, adaptive average pool -> 1x1 conv (channels
// / 4, no bias) -> bilinear upsample; concat with the input; 1x1 conv back to
// `channels` (no bias) -> ReLU.
class ICNetPspBlockImpl : public torch::nn::Module {
 public:
  explicit ICNetPspBlockImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::vector<int64_t> bins_;
  std::vector<torch::nn::Conv2d> stages_;  // one 1x1 conv per bin count
  torch::nn::Conv2d bottleneck_{nullptr};
};
TORCH_MODULE(ICNetPspBlock);

class ICNetImpl : public torch::nn::Module {
 public:
  explicit ICNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ICNetInitBlock init_block_{nullptr};
  ICNetPspBlock psp_block_{nullptr};
  torch::nn::Conv2d head_block_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(ICNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_ICNET_H_
