// Dual Path Networks (Chen et al. 2017): DPN68, DPN107 and DPN131 share this
// implementation and differ only in DpnConfig. A stem (conv + BN + ReLU +
// 3x3 s2 max-pool), four stages of dual-path blocks, BN + ReLU on the joined
// paths, GAP and a 1x1 conv classifier. Each block runs a pre-activation
// ResNeXt bottleneck (1x1 -> grouped 3x3 -> 1x1) whose output is split: the
// first `bw` channels are added to the residual path, the last `inc` are
// concatenated onto the densely growing path. Not thread-safe (a LibTorch
// module).
#ifndef MOE4_WORKER_MODELS_DPN_H_
#define MOE4_WORKER_MODELS_DPN_H_

#include <torch/torch.h>

#include <array>
#include <utility>

#include "worker/models/expert_options.h"

namespace moe4::worker {

// A reference configuration (Cadene's pretrainedmodels / timm dpn.py).
struct DpnConfig {
  bool small;                   // DPN68: 3x3 stem and residual widths 64..512; else 7x7 and 256..2048
  int init_features;            // stem channels
  int k_r;                      // bottleneck width of stage 1 (doubles per stage)
  int groups;                   // cardinality of the grouped 3x3
  std::array<int, 4> blocks;    // k_sec: blocks per stage
  std::array<int, 4> increase;  // inc_sec: dense-path growth per block
};

inline constexpr DpnConfig kDpn68{true, 10, 128, 32, {3, 4, 12, 3}, {16, 32, 32, 64}};
inline constexpr DpnConfig kDpn107{false, 128, 200, 50, {4, 8, 20, 3}, {20, 64, 64, 128}};
inline constexpr DpnConfig kDpn131{false, 128, 160, 40, {4, 8, 28, 3}, {16, 32, 32, 128}};

// BN -> ReLU -> conv (the pre-activation unit DPN is built from).
class BnReluConvImpl : public torch::nn::Module {
 public:
  BnReluConvImpl(int in, int out, int kernel, int stride = 1, int groups = 1);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::BatchNorm2d bn_{nullptr};
  torch::nn::Conv2d conv_{nullptr};
};
TORCH_MODULE(BnReluConv);

class DualPathBlockImpl : public torch::nn::Module {
 public:
  // `project`: the first block of a stage, which rebuilds both paths from its
  // input with a 1x1 conv (stride `stride`) to bw + 2 * inc channels.
  DualPathBlockImpl(int in, int bottleneck, int bw, int inc, int groups, bool project, int stride);
  // (residual [B, bw], dense [B, d]) -> (residual [B, bw], dense [B, d + inc]);
  // `dense` may be undefined for the stem output, which only a projecting
  // block receives.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& residual, const torch::Tensor& dense);

 private:
  int bw_;
  BnReluConv projection_{nullptr};  // null unless `project`
  BnReluConv reduce_{nullptr};      // 1x1 -> bottleneck
  BnReluConv grouped_{nullptr};     // grouped 3x3, carries the stride
  BnReluConv expand_{nullptr};      // 1x1 -> bw + inc
};
TORCH_MODULE(DualPathBlock);

class DPNImpl : public torch::nn::Module {
 public:
  DPNImpl(const ExpertOptions& options, const DpnConfig& config);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential stem_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::BatchNorm2d head_bn_{nullptr};
  torch::nn::Conv2d classifier_{nullptr};  // 1x1 conv on the pooled features
};
TORCH_MODULE(DPN);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_DPN_H_
