#include "worker/models/lemur/convnext.h"

#include <cmath>
#include <string>
#include <vector>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

// LEMUR's prm values and the constants its file fixes.
constexpr double kStochasticDepthProb = 0.1;  // prm stochastic_depth_prob
constexpr double kConvnextNormEps = 1e-6;             // prm norm_eps (and CNBlock's default)
constexpr double kNormStd = 0.02;             // prm norm_std
constexpr double kLayerScale = 1e-6;

// ConvNeXt-S: channels of each stage, blocks per stage.
struct Stage {
  int channels;
  int blocks;
};
constexpr Stage kStages[] = {{96, 3}, {192, 3}, {384, 27}, {768, 3}};

// nn.init.trunc_normal_(t, std=std): mean 0, cut at the absolute bounds -2
// and 2 (not at 2 std), sampled through the inverse CDF as PyTorch does.
void ConvnextTruncatedNormal(torch::Tensor t, double std) {
  torch::NoGradGuard no_grad;
  const auto cdf = [](double v) { return 0.5 * (1.0 + std::erf(v / std::sqrt(2.0))); };
  const double lo = cdf(-2.0 / std), hi = cdf(2.0 / std);
  t.uniform_(2.0 * lo - 1.0, 2.0 * hi - 1.0).erfinv_().mul_(std * std::sqrt(2.0)).clamp_(-2.0, 2.0);
}

// torchvision's StochasticDepth(p, "row"): in training, each sample's branch
// is kept with probability 1 - p and the survivors scaled by 1 / (1 - p).
torch::Tensor DropRows(const torch::Tensor& x, double p, bool training) {
  if (!training || p == 0.0) return x;
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  return x * torch::empty(shape, x.options()).bernoulli_(1.0 - p).div_(1.0 - p);
}

}  // namespace

ConvNeXtLayerNorm2dImpl::ConvNeXtLayerNorm2dImpl(int channels, double eps) : channels_(channels), eps_(eps) {
  weight_ = register_parameter("weight", torch::ones({channels}));
  bias_ = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor ConvNeXtLayerNorm2dImpl::forward(const torch::Tensor& x) {
  return torch::layer_norm(x.permute({0, 2, 3, 1}), {channels_}, weight_, bias_, eps_).permute({0, 3, 1, 2});
}

ConvNeXtBlockImpl::ConvNeXtBlockImpl(int channels, double stochastic_depth_prob)
    : stochastic_depth_prob_(stochastic_depth_prob) {
  depthwise_ = register_module(
      "depthwise", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 7).padding(3).groups(channels)));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels}).eps(kConvnextNormEps)));
  expand_ = register_module("expand", torch::nn::Linear(channels, 4 * channels));
  project_ = register_module("project", torch::nn::Linear(4 * channels, channels));
  layer_scale_ = register_parameter("layer_scale", torch::full({channels, 1, 1}, kLayerScale));
}

torch::Tensor ConvNeXtBlockImpl::forward(const torch::Tensor& x) {
  auto y = norm_->forward(depthwise_->forward(x).permute({0, 2, 3, 1}));
  y = project_->forward(torch::gelu(expand_->forward(y))).permute({0, 3, 1, 2});
  return DropRows(layer_scale_ * y, stochastic_depth_prob_, is_training()) + x;
}

ConvNeXtImpl::ConvNeXtImpl(const ExpertOptions& options) {
  std::vector<int> widths;
  int total_blocks = 0;
  for (const Stage& stage : kStages) {
    widths.push_back(Scaled(stage.channels, options.width));
    total_blocks += stage.blocks;
  }

  // One flat Sequential (LibTorch cannot nest Sequentials), in LEMUR's order.
  features_ = register_module("features", torch::nn::Sequential());
  features_->push_back("stem_conv",
                       torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels, widths[0], 4).stride(4)));
  features_->push_back("stem_norm", ConvNeXtLayerNorm2d(widths[0], kConvnextNormEps));
  int block_id = 0;
  for (size_t s = 0; s < widths.size(); ++s) {
    for (int b = 0; b < kStages[s].blocks; ++b, ++block_id) {
      // Linear in the block's index over the whole network, 0 for the first.
      const double p = kStochasticDepthProb * block_id / (total_blocks - 1.0);
      features_->push_back("stage" + std::to_string(s) + "_block" + std::to_string(b), ConvNeXtBlock(widths[s], p));
    }
    if (s + 1 < widths.size()) {
      const std::string name = "downsample" + std::to_string(s);
      features_->push_back(name + "_norm", ConvNeXtLayerNorm2d(widths[s], kConvnextNormEps));
      features_->push_back(name + "_conv",
                           torch::nn::Conv2d(torch::nn::Conv2dOptions(widths[s], widths[s + 1], 2).stride(2)));
    }
  }
  head_norm_ = register_module("head_norm", ConvNeXtLayerNorm2d(widths.back(), kConvnextNormEps));
  classifier_ = register_module("classifier", torch::nn::Linear(widths.back(), options.num_classes));

  // LEMUR's init loop: every Conv2d and Linear, the blocks' included.
  for (auto& module : modules(/*include_self=*/false)) {
    torch::Tensor weight, bias;
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      weight = conv->weight;
      bias = conv->bias;
    } else if (auto* linear = module->as<torch::nn::Linear>()) {
      weight = linear->weight;
      bias = linear->bias;
    } else {
      continue;
    }
    ConvnextTruncatedNormal(weight, kNormStd);
    if (bias.defined()) torch::nn::init::zeros_(bias);
  }
}

torch::Tensor ConvNeXtImpl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1});
  return classifier_->forward(head_norm_->forward(y).flatten(1));
}

}  // namespace moe4::worker::lemur
