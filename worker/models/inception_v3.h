// InceptionV3-1 expert, torchvision's Inception v3 at width 1.0 (without the
// optional auxiliary head): stem convs 32-32-64 / max-pool / 80-192 /
// max-pool; three Inception-A modules (1x1, 5x5, double 3x3, pool branches);
// the grid reduction B; four Inception-C modules whose 7x7 filters are
// factorised into asymmetric 1x7 and 7x1 convs (7x7 branch widths 128, 160,
// 160, 192); the grid reduction D (with a 1x7/7x1 branch); two Inception-E
// modules with expanded 1x3 / 3x1 filter banks; GAP, dropout 0.5, linear.
// Every conv is conv -> BN (eps 1e-3) -> ReLU.
//
// Small inputs: convs use "same" padding (the reference's unpadded stem would
// eat 28-32 px inputs), and a DownsamplePlan drops the earliest of the five
// halvings (stem conv, two stem pools, reductions B and D); a dropped
// reduction keeps its branches with stride 1.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_INCEPTION_V3_H_
#define MOE4_WORKER_MODELS_INCEPTION_V3_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/expert_options.h"

namespace moe4::worker {

// Conv (kh x kw, "same" padding, no bias) -> BN(eps 1e-3) -> ReLU.
class InceptionV3ConvImpl : public torch::nn::Module {
 public:
  InceptionV3ConvImpl(int in, int out, int kh, int kw, int stride = 1);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(InceptionV3Conv);

// An Inception module: parallel branches concatenated on channels. Each
// branch is a Sequential; E's split tails (1x3 and 3x1 on one input) are
// `fork` pairs appended after their branch's trunk.
class InceptionV3ModuleImpl : public torch::nn::Module {
 public:
  InceptionV3ModuleImpl() = default;
  // Adds a branch; `fork` (optional) holds two convs applied to the trunk's
  // output and concatenated.
  void AddBranch(torch::nn::Sequential trunk, int out_channels, std::vector<InceptionV3Conv> fork = {});
  torch::Tensor forward(const torch::Tensor& x);
  int out_channels() const { return out_channels_; }

 private:
  std::vector<torch::nn::Sequential> trunks_;
  std::vector<std::vector<InceptionV3Conv>> forks_;
  int out_channels_ = 0;
};
TORCH_MODULE(InceptionV3Module);

class InceptionV3Impl : public torch::nn::Module {
 public:
  explicit InceptionV3Impl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(InceptionV3);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_INCEPTION_V3_H_
