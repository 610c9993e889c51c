#include "worker/models/regnet.h"

#include <algorithm>
#include <cmath>

namespace moe4::worker {

std::vector<std::pair<int, int>> RegNetStages(double w0, double wa, double wm, int depth, int quantum) {
  std::vector<std::pair<int, int>> stages;
  for (int j = 0; j < depth; ++j) {
    // u_j = w0 + wa * j, snapped to w0 * wm^s for integer s, then to the quantum.
    const double s = std::round(std::log((w0 + wa * j) / w0) / std::log(wm));
    const int width = static_cast<int>(std::round(w0 * std::pow(wm, s) / quantum)) * quantum;
    if (stages.empty() || stages.back().first != width) {
      stages.emplace_back(width, 1);
    } else {
      ++stages.back().second;
    }
  }
  return stages;
}

RegNetBlockImpl::RegNetBlockImpl(int in, int out, int stride, int group_width, double se_ratio) {
  const int groups = out / group_width;
  body_ = register_module("body", torch::nn::Sequential());
  body_->push_back(ConvBnAct(in, out, 1));
  body_->push_back(ConvBnAct(out, out, 3, stride, groups));
  body_->push_back(SqueezeExcite(out, std::max(1, static_cast<int>(std::lround(se_ratio * in))), false));
  body_->push_back(ConvBnAct(out, out, 1, 1, 1, Activation::kNone));
  if (stride != 1 || in != out) {
    shortcut_ = register_module("shortcut", ConvBnAct(in, out, 1, stride, 1, Activation::kNone));
  }
}

torch::Tensor RegNetBlockImpl::forward(const torch::Tensor& x) {
  auto identity = shortcut_ ? shortcut_->forward(x) : x;
  return torch::relu(body_->forward(x) + identity);
}

RegNetImpl::RegNetImpl(const ExpertOptions& options) {
  // RegNetY-400MF.
  constexpr int kGroupWidth = 8;
  constexpr double kSeRatio = 0.25;
  const auto stages = RegNetStages(48, 27.89, 2.09, 16, 8);
  // Reference events: the stem and the first block of each of the four stages.
  DownsamplePlan plan(options.image_size, 1 + static_cast<int>(stages.size()));
  const int stem = ScaleChannels(32, options.width);
  stem_ = register_module("stem", ConvBnAct(options.in_channels, stem, 3, plan.NextStride()));
  stages_ = register_module("stages", torch::nn::Sequential());
  int in = stem;
  for (const auto& [reference_width, depth] : stages) {
    const int out = ScaleChannels(reference_width, options.width, kGroupWidth, kGroupWidth);
    const int stride = plan.NextStride();
    for (int i = 0; i < depth; ++i) {
      stages_->push_back(RegNetBlock(i == 0 ? in : out, out, i == 0 ? stride : 1, kGroupWidth, kSeRatio));
    }
    in = out;
  }
  classifier_ = register_module("classifier", torch::nn::Linear(in, options.num_classes));
  InitWeights(*this);
}

torch::Tensor RegNetImpl::forward(const torch::Tensor& x) {
  auto y = stages_->forward(stem_->forward(x));
  return classifier_->forward(torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1));
}

}  // namespace moe4::worker
