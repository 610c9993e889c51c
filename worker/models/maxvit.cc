#include "worker/models/maxvit.h"

#include <algorithm>

namespace moe4::worker {
namespace {

constexpr int kStem = 64;  // MaxViT-T
constexpr int kChannels[] = {64, 128, 256, 512};
constexpr int kDepths[] = {2, 2, 5, 2};
constexpr int kMaxvitHeadDim = 32;
constexpr int kPartition = 7;
constexpr int kExpansion = 4;
constexpr int kMaxvitMlpRatio = 4;
constexpr double kDropPath = 0.2;

int RoundUp(int64_t value, int multiple) { return static_cast<int>((value + multiple - 1) / multiple * multiple); }

torch::nn::Conv2d MaxvitConv(int in, int out, int kernel, int stride = 1, int groups = 1, bool bias = false) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).groups(groups).bias(bias));
}

// GELU as a Sequential element.
class GeluImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x) { return torch::gelu(x); }
};
TORCH_MODULE(Gelu);

}  // namespace

MaxVitMBConvImpl::MaxVitMBConvImpl(int in, int out, int stride, double drop_path) : drop_path_(drop_path) {
  const int mid = kExpansion * out;
  main_ = register_module("main", torch::nn::Sequential());
  main_->push_back(torch::nn::BatchNorm2d(in));  // pre-norm
  main_->push_back(MaxvitConv(in, mid, 1));
  main_->push_back(torch::nn::BatchNorm2d(mid));
  main_->push_back(Gelu());
  main_->push_back(MaxvitConv(mid, mid, 3, stride, mid));
  main_->push_back(torch::nn::BatchNorm2d(mid));
  main_->push_back(Gelu());
  main_->push_back(SqueezeExcite(mid, std::max(1, out / 4), false));
  main_->push_back(MaxvitConv(mid, out, 1, 1, 1, true));
  shortcut_ = register_module("shortcut", torch::nn::Sequential());
  if (stride == 2) {
    shortcut_->push_back(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(3).stride(2).padding(1)));
  }
  if (stride == 2 || in != out) shortcut_->push_back(MaxvitConv(in, out, 1, 1, 1, true));
}

torch::Tensor MaxVitMBConvImpl::forward(const torch::Tensor& x) {
  auto identity = shortcut_->is_empty() ? x : shortcut_->forward(x);
  return identity + DropPathSamples(main_->forward(x), drop_path_, is_training());
}

MaxVitAttentionImpl::MaxVitAttentionImpl(int dim, int heads, int side, MaxVitPartition partition, double drop_path)
    : side_(side), partition_(partition), drop_path_(drop_path) {
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  attention_ = register_module("attention", MultiHeadSelfAttention(dim, heads));
  bias_ = register_module("relative_position_bias", RelativePositionBias(side, heads));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  mlp_ = register_module("mlp", TransformerMlp(dim, kMaxvitMlpRatio * dim));
}

torch::Tensor MaxVitAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t hp = RoundUp(h, side_), wp = RoundUp(w, side_);
  auto y = x.permute({0, 2, 3, 1});  // [B, H, W, C]
  if (hp != h || wp != w) y = torch::constant_pad_nd(y, {0, 0, 0, wp - w, 0, hp - h});
  const int64_t p = side_, gh = hp / p, gw = wp / p;
  torch::Tensor tokens;  // [B * partitions, P * P, C]
  if (partition_ == MaxVitPartition::kBlock) {
    tokens = MapToWindows(y, p);
  } else {
    // Token (i, j) of partition (u, v) sits at (i * gh + u, j * gw + v).
    tokens = y.reshape({b, p, gh, p, gw, c}).permute({0, 2, 4, 1, 3, 5}).reshape({-1, p * p, c});
  }
  // Stochastic depth drops a branch for a whole image, not per partition.
  auto drop_path = [&](const torch::Tensor& branch) {
    return DropPathSamples(branch.view({b, -1, c}), drop_path_, is_training()).view(branch.sizes());
  };
  tokens = tokens + drop_path(attention_->forward(norm1_->forward(tokens), bias_->forward()));
  tokens = tokens + drop_path(mlp_->forward(norm2_->forward(tokens)));
  if (partition_ == MaxVitPartition::kBlock) {
    y = WindowsToMap(tokens, p, hp, wp);
  } else {
    y = tokens.reshape({b, gh, gw, p, p, c}).permute({0, 3, 1, 4, 2, 5}).reshape({b, hp, wp, c});
  }
  using torch::indexing::Slice;
  if (hp != h || wp != w) y = y.index({Slice(), Slice(0, h), Slice(0, w)});
  return y.permute({0, 3, 1, 2}).contiguous();
}

MaxVitImpl::MaxVitImpl(const ExpertOptions& options) {
  // Reference events: the stem and the first block of each stage.
  DownsamplePlan plan(options.image_size, 5);
  const double width = options.width;
  const int stem = ScaleChannels(kStem, width);
  stem_ = register_module("stem", torch::nn::Sequential());
  stem_->push_back(MaxvitConv(options.in_channels, stem, 3, plan.NextStride()));
  stem_->push_back(torch::nn::BatchNorm2d(stem));
  stem_->push_back(Gelu());
  stem_->push_back(MaxvitConv(stem, stem, 3, 1, 1, true));

  int total_blocks = 0;
  for (int depth : kDepths) total_blocks += depth;
  stages_ = register_module("stages", torch::nn::Sequential());
  int in = stem;
  int block = 0;
  for (int stage = 0; stage < 4; ++stage) {
    const int out = ScaleChannels(kChannels[stage], width);
    const int stride = plan.NextStride();
    const int side = WindowSideFor(plan.size(), kPartition);
    const int heads = AttentionHeads(out, kMaxvitHeadDim);
    resolutions_.push_back(plan.size());
    partitions_.push_back(side);
    for (int i = 0; i < kDepths[stage]; ++i, ++block) {
      const double drop_path = kDropPath * block / (total_blocks - 1);
      stages_->push_back(MaxVitMBConv(i == 0 ? in : out, out, i == 0 ? stride : 1, drop_path));
      stages_->push_back(MaxVitAttention(out, heads, side, MaxVitPartition::kBlock, drop_path));
      stages_->push_back(MaxVitAttention(out, heads, side, MaxVitPartition::kGrid, drop_path));
    }
    in = out;
  }
  head_norm_ = register_module("head_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({in})));
  pre_logits_ = register_module("pre_logits", torch::nn::Linear(in, in));
  head_ = register_module("head", torch::nn::Linear(in, options.num_classes));
  InitTransformerWeights(*this);
}

torch::Tensor MaxVitImpl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(stages_->forward(stem_->forward(x)), {1, 1}).flatten(1);
  return head_->forward(torch::tanh(pre_logits_->forward(head_norm_->forward(y))));
}

}  // namespace moe4::worker
