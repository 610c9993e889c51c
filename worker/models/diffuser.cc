#include "worker/models/diffuser.h"

#include <cmath>
#include <numeric>

#include "worker/models/layers.h"

namespace moe4::worker {
namespace {

// DDPM's 32 groups where the (scaled) channel count allows.
torch::nn::GroupNorm Norm(int channels) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(std::gcd(32, channels), channels));
}

torch::nn::Conv2d Conv3x3(int in, int out, int stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

}  // namespace

torch::Tensor TimestepEmbedding(const torch::Tensor& t, int dim) {
  const int half = dim / 2;
  auto freqs =
      torch::exp(torch::arange(half, t.options().dtype(torch::kFloat)) * (-std::log(10000.0) / std::max(1, half - 1)));
  auto args = t.to(torch::kFloat).unsqueeze(1) * freqs.unsqueeze(0);
  return torch::cat({torch::sin(args), torch::cos(args)}, 1);
}

DiffuserResBlockImpl::DiffuserResBlockImpl(int in, int out, int time_dim) {
  norm1_ = register_module("norm1", Norm(in));
  conv1_ = register_module("conv1", Conv3x3(in, out));
  time_proj_ = register_module("time_proj", torch::nn::Linear(time_dim, out));
  norm2_ = register_module("norm2", Norm(out));
  conv2_ = register_module("conv2", Conv3x3(out, out));
  if (in != out) shortcut_ = register_module("shortcut", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)));
}

torch::Tensor DiffuserResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& time) {
  auto h = conv1_->forward(torch::silu(norm1_->forward(x)));
  h = h + time_proj_->forward(torch::silu(time)).unsqueeze(2).unsqueeze(3);
  h = conv2_->forward(torch::silu(norm2_->forward(h)));
  return (shortcut_ ? shortcut_->forward(x) : x) + h;
}

DiffuserImpl::DiffuserImpl(const ExpertOptions& options) {
  const double w = options.width;
  base_ = ScaleChannels(64, w);
  const int time_dim = 4 * base_;
  {
    auto betas = torch::linspace(1e-4, 0.02, kDiffusionSteps, torch::kDouble);
    alpha_bar_ = register_buffer("alpha_bar", torch::cumprod(1.0 - betas, 0).to(torch::kFloat));
  }
  time_fc1_ = register_module("time_fc1", torch::nn::Linear(base_, time_dim));
  time_fc2_ = register_module("time_fc2", torch::nn::Linear(time_dim, time_dim));
  stem_ = register_module("stem", Conv3x3(options.in_channels, base_));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  // Reference events: the three downsamplers between the four levels.
  DownsamplePlan plan(options.image_size, 3);
  const int kMult[] = {1, 2, 2, 4};
  int in = base_;
  for (int level = 0; level < 4; ++level) {
    const int out = ScaleChannels(64 * kMult[level], w);
    blocks_->push_back(DiffuserResBlock(in, out, time_dim));
    in = out;
    if (level < 3) {
      downsamplers_.push_back(plan.Next() ? register_module("down" + std::to_string(level), Conv3x3(in, in, 2))
                                          : torch::nn::Conv2d(nullptr));
    }
  }
  head_norm_ = register_module("head_norm", Norm(in));
  classifier_ = register_module("classifier", torch::nn::Linear(in, options.num_classes));
  InitWeights(*this);
}

torch::Tensor DiffuserImpl::forward(const torch::Tensor& x) {
  const int64_t batch = x.size(0);
  torch::Tensor input = x;
  torch::Tensor t;
  if (is_training()) {
    t = torch::randint(0, kDiffuserMaxTrainStep, {batch}, x.options().dtype(torch::kLong));
    auto abar = alpha_bar_.index_select(0, t).view({batch, 1, 1, 1}).to(x.dtype());
    input = torch::sqrt(abar) * x + torch::sqrt(1.0 - abar) * torch::randn_like(x);
  } else {
    t = torch::zeros({batch}, x.options().dtype(torch::kLong));
  }
  auto time = time_fc2_->forward(torch::silu(time_fc1_->forward(TimestepEmbedding(t, base_))));
  auto h = stem_->forward(input);
  for (size_t level = 0; level < blocks_->size(); ++level) {
    h = blocks_->ptr(level)->as<DiffuserResBlock>()->forward(h, time);
    if (level < downsamplers_.size() && downsamplers_[level]) h = downsamplers_[level]->forward(h);
  }
  h = torch::silu(head_norm_->forward(h));
  return classifier_->forward(torch::adaptive_avg_pool2d(h, {1, 1}).flatten(1));
}

}  // namespace moe4::worker
