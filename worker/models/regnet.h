// RegNet expert, RegNetY-400MF at width 1.0: the stage widths and depths come
// from the RegNet design space's quantised linear rule (w0 = 48, wa = 27.89,
// wm = 2.09, depth 16, widths rounded to multiples of 8), which gives four
// stages of (1, 3, 6, 6) blocks at 48/104/208/440 channels. Stem 3x3 s2 conv
// (32); each block is the X/Y bottleneck: 1x1 conv -> 3x3 group conv (group
// width 8, stride 2 in a stage's first block) -> squeeze-excitation (0.25 of
// the block input, the "Y") -> 1x1 conv, bottleneck ratio 1, with a 1x1
// projection shortcut where the shape changes; then GAP and linear.
//
// Width multiplier: stage widths are scaled and re-quantised to multiples of
// the group width, so the group count shrinks with the width.
// Small inputs: a DownsamplePlan drops the earliest of the five halvings.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_REGNET_H_
#define MOE4_WORKER_MODELS_REGNET_H_

#include <torch/torch.h>

#include <utility>
#include <vector>

#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

// {width, depth} per stage from the design-space parameters (w0, wa, wm, d, q).
std::vector<std::pair<int, int>> RegNetStages(double w0, double wa, double wm, int depth, int quantum);

class RegNetBlockImpl : public torch::nn::Module {
 public:
  RegNetBlockImpl(int in, int out, int stride, int group_width, double se_ratio);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential body_{nullptr};
  ConvBnAct shortcut_{nullptr};  // null for the identity
};
TORCH_MODULE(RegNetBlock);

class RegNetImpl : public torch::nn::Module {
 public:
  explicit RegNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ConvBnAct stem_{nullptr};
  torch::nn::Sequential stages_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(RegNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_REGNET_H_
