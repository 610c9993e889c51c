#include "worker/models/lemur/regnet.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

// LEMUR's from_init_params arguments (RegNetY-400MF).
constexpr int kDepth = 16;
constexpr int kW0 = 48;
constexpr double kWa = 27.89;
constexpr double kWm = 2.09;
constexpr int kGroupWidth = 8;
constexpr double kSeRatio = 0.25;
constexpr int kStemWidth = 32;
constexpr int kQuant = 8;

struct Stage {
  int width;
  int depth;
};

// torchvision's BlockParams.from_init_params, with the same tensor ops (and
// so the same float32 rounding) as LEMUR's Python; bottleneck multiplier 1.
std::vector<Stage> StagesFromInitParams() {
  const auto widths_cont = torch::arange(kDepth) * kWa + kW0;
  const auto capacity = torch::round(torch::log(widths_cont / kW0) / std::log(kWm));
  const auto widths_t = (torch::round(torch::pow(kWm, capacity) * kW0 / kQuant) * kQuant).to(torch::kInt);
  std::vector<Stage> stages;
  for (int i = 0; i < kDepth; ++i) {
    const int width = widths_t[i].item<int>();
    if (stages.empty() || stages.back().width != width) {
      stages.push_back({width, 1});
    } else {
      ++stages.back().depth;
    }
  }
  // _adjust_widths_groups_compatibilty: the group width is at most the
  // bottleneck width, which is rounded to a multiple of it (torchvision's
  // _make_divisible); a no-op for these widths, kept for fidelity.
  for (Stage& s : stages) {
    const int g = std::min(kGroupWidth, s.width);
    int rounded = std::max(g, static_cast<int>(s.width + g / 2.0) / g * g);
    if (rounded < 0.9 * s.width) rounded += g;
    s.width = rounded;
  }
  return stages;
}

// Conv2dNormActivation: "same" padding, no conv bias (a BN follows).
void AppendConvBn(torch::nn::Sequential& seq, int in, int out, int kernel, int stride, int groups, bool relu) {
  seq->push_back(torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding((kernel - 1) / 2).groups(groups).bias(false)));
  seq->push_back(torch::nn::BatchNorm2d(out));
  if (relu) seq->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
}

}  // namespace

RegNetSqueezeExcitationImpl::RegNetSqueezeExcitationImpl(int channels, int squeeze) {
  fc1_ = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, squeeze, 1)));
  fc2_ = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze, channels, 1)));
}

torch::Tensor RegNetSqueezeExcitationImpl::forward(const torch::Tensor& x) {
  auto scale = torch::adaptive_avg_pool2d(x, {1, 1});
  scale = torch::sigmoid(fc2_->forward(torch::relu(fc1_->forward(scale))));
  return scale * x;
}

RegNetBlockImpl::RegNetBlockImpl(int in, int out, int stride, int group_width, bool project) {
  if (project) {
    proj_ = register_module("proj", torch::nn::Sequential());
    AppendConvBn(proj_, in, out, 1, stride, 1, false);
  }
  const int bottleneck = out;  // bottleneck multiplier 1
  const int groups = bottleneck / group_width;
  // Python's round() (half to even) of 0.25 x the INPUT width; at least one
  // channel so that tiny widths still build.
  const int squeeze = std::max(1, static_cast<int>(std::nearbyint(kSeRatio * in)));
  f_ = register_module("f", torch::nn::Sequential());
  AppendConvBn(f_, in, bottleneck, 1, 1, 1, true);                    // a
  AppendConvBn(f_, bottleneck, bottleneck, 3, stride, groups, true);  // b
  f_->push_back(RegNetSqueezeExcitation(bottleneck, squeeze));        // se
  AppendConvBn(f_, bottleneck, out, 1, 1, 1, false);                  // c
}

torch::Tensor RegNetBlockImpl::forward(const torch::Tensor& x) {
  const auto shortcut = proj_ ? proj_->forward(x) : x;
  return torch::relu(shortcut + f_->forward(x));
}

RegNetImpl::RegNetImpl(const ExpertOptions& options) {
  const double w = options.width;
  stem_ = register_module("stem", torch::nn::Sequential());
  AppendConvBn(stem_, options.in_channels, Scaled(kStemWidth, w, kGroupWidth), 3, 2, 1, true);
  trunk_output_ = register_module("trunk_output", torch::nn::Sequential());
  int in = kStemWidth;  // reference widths decide the structure, so it is the same at every width
  int in_scaled = Scaled(kStemWidth, w, kGroupWidth);
  for (const Stage& stage : StagesFromInitParams()) {
    // Widths stay multiples of the group width at every moe4 width.
    const int out_scaled = Scaled(stage.width, w, kGroupWidth);
    const int group_width = std::min(kGroupWidth, out_scaled);
    for (int i = 0; i < stage.depth; ++i) {
      const int stride = i == 0 ? 2 : 1;
      const bool project = in != stage.width || stride != 1;
      trunk_output_->push_back(RegNetBlock(in_scaled, out_scaled, stride, group_width, project));
      in = stage.width;
      in_scaled = out_scaled;
    }
  }
  fc_ = register_module("fc", torch::nn::Linear(in_scaled, options.num_classes));

  // LEMUR's explicit init.
  torch::NoGradGuard no_grad;
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2dImpl>()) {
      // LEMUR's fan_out: kernel area x output channels (groups not divided out).
      const auto& wt = conv->weight;
      const double fan_out = static_cast<double>(wt.size(0) * wt.size(2) * wt.size(3));
      torch::nn::init::normal_(conv->weight, 0.0, std::sqrt(2.0 / fan_out));
    } else if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    } else if (auto* linear = m->as<torch::nn::LinearImpl>()) {
      torch::nn::init::normal_(linear->weight, 0.0, 0.01);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor RegNetImpl::forward(const torch::Tensor& x) {
  auto y = trunk_output_->forward(stem_->forward(x));
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  return fc_->forward(y);
}

}  // namespace moe4::worker::lemur
