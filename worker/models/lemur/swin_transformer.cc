#include "worker/models/lemur/swin_transformer.h"

#include <array>
#include <cmath>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

// LEMUR's prm values and the constants its file fixes (Swin-T).
constexpr double kSwinTransformerDropout = 0.2;               // prm dropout
constexpr double kSwinTransformerAttentionDropout = 0.1;      // prm attention_dropout
constexpr double kStochasticDepthProb = 0.1;   // prm stochastic_depth_prob
constexpr double kSwinTransformerNormEps = 1e-5;
constexpr double kInitStd = 0.02;
constexpr int kSwinTransformerEmbedDim = 96;
constexpr int kPatch = 4;
constexpr int kWindow = 7;
constexpr int kSwinTransformerMlpRatio = 4;
constexpr int kDepths[] = {2, 2, 6, 2};
constexpr int kHeads[] = {3, 6, 12, 24};

// nn.init.trunc_normal_(t, std=std): mean 0, cut at the absolute bounds -2
// and 2 (not at 2 std), sampled through the inverse CDF as PyTorch does.
void SwinTransformerTruncatedNormal(torch::Tensor t, double std) {
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

// The three regions torchvision labels along one side of length `length`:
// Python's [0:-window], [-window:-shift], [-shift:] (where -0 is 0, so with
// no shift the middle region is empty and the last covers the whole side).
std::array<std::pair<int64_t, int64_t>, 3> ShiftRegions(int64_t length, int64_t window, int64_t shift) {
  const int64_t cut = shift == 0 ? 0 : length - shift;
  return {{{0, length - window}, {length - window, cut}, {cut, length}}};
}

}  // namespace

SwinPatchEmbedImpl::SwinPatchEmbedImpl(int in_channels, int dim) {
  conv_ = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, dim, kPatch).stride(kPatch)));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kSwinTransformerNormEps)));
}

torch::Tensor SwinPatchEmbedImpl::forward(const torch::Tensor& x) {
  return norm_->forward(conv_->forward(x).permute({0, 2, 3, 1}));
}

SwinWindowAttentionImpl::SwinWindowAttentionImpl(int dim, int heads, int window, int shift, double attention_dropout,
                                                 double dropout)
    : heads_(heads), window_(window), shift_(shift), attention_dropout_(attention_dropout), dropout_(dropout) {
  qkv_ = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  proj_ = register_module("proj", torch::nn::Linear(dim, dim));
  const int64_t span = 2 * window_ - 1;
  relative_position_bias_table_ =
      register_parameter("relative_position_bias_table", torch::zeros({span * span, int64_t{heads}}));
  SwinTransformerTruncatedNormal(relative_position_bias_table_, kInitStd);
  // Row-major offset (dy, dx) between every pair of window positions.
  const auto coords =
      torch::stack(torch::meshgrid({torch::arange(window_), torch::arange(window_)}, "ij")).flatten(1);  // [2, N]
  const auto relative = coords.unsqueeze(2) - coords.unsqueeze(1);                                      // [2, N, N]
  const auto index = (relative[0] + (window_ - 1)) * span + (relative[1] + (window_ - 1));
  relative_position_index_ = register_buffer("relative_position_index", index.flatten().to(torch::kLong));
}

const torch::Tensor& SwinWindowAttentionImpl::ShiftMask(int64_t padded_h, int64_t padded_w, int64_t shift_h,
                                                        int64_t shift_w, const torch::TensorOptions& options) {
  const int64_t windows = (padded_h / window_) * (padded_w / window_);
  const int64_t n = window_ * window_;
  if (mask_.defined() && mask_h_ == padded_h && mask_w_ == padded_w && mask_.device() == options.device() &&
      mask_.dtype() == options.dtype()) {
    return mask_;
  }
  auto labels = torch::zeros({padded_h, padded_w});
  double label = 0;
  for (const auto& [h0, h1] : ShiftRegions(padded_h, window_, shift_h)) {
    for (const auto& [w0, w1] : ShiftRegions(padded_w, window_, shift_w)) {
      if (h1 > h0 && w1 > w0) labels.slice(0, h0, h1).slice(1, w0, w1).fill_(label);
      label += 1;
    }
  }
  labels = labels.view({padded_h / window_, window_, padded_w / window_, window_})
               .permute({0, 2, 1, 3})
               .reshape({windows, n});
  const auto differs = labels.unsqueeze(1) - labels.unsqueeze(2) != 0;
  mask_ = torch::zeros({windows, n, n}).masked_fill_(differs, -100.0).to(options);
  mask_h_ = padded_h;
  mask_w_ = padded_w;
  return mask_;
}

torch::Tensor SwinWindowAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  const int64_t ws = window_;
  const int64_t pad_h = h + (ws - h % ws) % ws, pad_w = w + (ws - w % ws) % ws;
  auto y = torch::constant_pad_nd(x, {0, 0, 0, pad_w - w, 0, pad_h - h});
  // torchvision drops the shift along a side the window already covers.
  const int64_t shift_h = ws >= pad_h ? 0 : shift_, shift_w = ws >= pad_w ? 0 : shift_;
  const bool shifted = shift_h + shift_w > 0;
  if (shifted) y = torch::roll(y, {-shift_h, -shift_w}, {1, 2});

  const int64_t rows = pad_h / ws, cols = pad_w / ws, windows = rows * cols, n = ws * ws, d = c / heads_;
  y = y.reshape({b, rows, ws, cols, ws, c}).permute({0, 1, 3, 2, 4, 5}).reshape({b * windows, n, c});
  const auto qkv = qkv_->forward(y).reshape({b * windows, n, 3, heads_, d}).permute({2, 0, 3, 1, 4});
  auto attn = torch::matmul(qkv[0] * (1.0 / std::sqrt(static_cast<double>(d))), qkv[1].transpose(-2, -1));
  const auto bias = relative_position_bias_table_.index_select(0, relative_position_index_).view({n, n, heads_});
  attn = attn + bias.permute({2, 0, 1}).unsqueeze(0);
  if (shifted) {
    const auto& mask = ShiftMask(pad_h, pad_w, shift_h, shift_w, attn.options());
    attn = (attn.view({b, windows, heads_, n, n}) + mask.unsqueeze(1).unsqueeze(0)).view({b * windows, heads_, n, n});
  }
  attn = torch::dropout(torch::softmax(attn, -1), attention_dropout_, is_training());
  y = torch::matmul(attn, qkv[2]).transpose(1, 2).reshape({b * windows, n, c});
  y = torch::dropout(proj_->forward(y), dropout_, is_training());

  y = y.view({b, rows, cols, ws, ws, c}).permute({0, 1, 3, 2, 4, 5}).reshape({b, pad_h, pad_w, c});
  if (shifted) y = torch::roll(y, {shift_h, shift_w}, {1, 2});
  return y.slice(1, 0, h).slice(2, 0, w).contiguous();
}

SwinBlockImpl::SwinBlockImpl(int dim, int heads, int window, int shift, double stochastic_depth_prob)
    : stochastic_depth_prob_(stochastic_depth_prob) {
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kSwinTransformerNormEps)));
  attn_ = register_module("attn", SwinWindowAttention(dim, heads, window, shift, kSwinTransformerAttentionDropout, kSwinTransformerDropout));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kSwinTransformerNormEps)));
  // torchvision's MLP(dim, [4 dim, dim]): Linear, GELU, Dropout, Linear, Dropout.
  mlp_ = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(dim, kSwinTransformerMlpRatio * dim), torch::nn::GELU(),
                                                      torch::nn::Dropout(kSwinTransformerDropout),
                                                      torch::nn::Linear(kSwinTransformerMlpRatio * dim, dim),
                                                      torch::nn::Dropout(kSwinTransformerDropout)));
}

torch::Tensor SwinBlockImpl::forward(const torch::Tensor& x) {
  auto y = x + DropRows(attn_->forward(norm1_->forward(x)), stochastic_depth_prob_, is_training());
  return y + DropRows(mlp_->forward(norm2_->forward(y)), stochastic_depth_prob_, is_training());
}

SwinPatchMergingImpl::SwinPatchMergingImpl(int dim) {
  reduction_ = register_module("reduction", torch::nn::Linear(torch::nn::LinearOptions(4 * dim, 2 * dim).bias(false)));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({4 * dim}).eps(kSwinTransformerNormEps)));
}

torch::Tensor SwinPatchMergingImpl::forward(const torch::Tensor& x) {
  const int64_t h = x.size(1), w = x.size(2);
  const auto y = torch::constant_pad_nd(x, {0, 0, 0, w % 2, 0, h % 2});
  const int64_t end = INT64_MAX;
  // torchvision's order: (even row, even col), (odd, even), (even, odd), (odd, odd).
  const auto merged = torch::cat({y.slice(1, 0, end, 2).slice(2, 0, end, 2), y.slice(1, 1, end, 2).slice(2, 0, end, 2),
                                  y.slice(1, 0, end, 2).slice(2, 1, end, 2), y.slice(1, 1, end, 2).slice(2, 1, end, 2)},
                                 -1);
  return reduction_->forward(norm_->forward(merged));
}

SwinTransformerImpl::SwinTransformerImpl(const ExpertOptions& options) {
  // Divisible by 3 so that every stage splits evenly into its 3 * 2^i heads.
  const int embed = Scaled(kSwinTransformerEmbedDim, options.width, 3);
  const int stages = static_cast<int>(std::size(kDepths));
  int total_blocks = 0;
  for (int depth : kDepths) total_blocks += depth;

  // One flat Sequential (LibTorch cannot nest Sequentials), in LEMUR's order.
  features_ = register_module("features", torch::nn::Sequential());
  features_->push_back("patch_embed", SwinPatchEmbed(options.in_channels, embed));
  int block_id = 0;
  for (int s = 0; s < stages; ++s) {
    const int dim = embed << s;
    for (int i = 0; i < kDepths[s]; ++i, ++block_id) {
      const double p = kStochasticDepthProb * block_id / (total_blocks - 1.0);
      features_->push_back("stage" + std::to_string(s) + "_block" + std::to_string(i),
                           SwinBlock(dim, kHeads[s], kWindow, i % 2 == 0 ? 0 : kWindow / 2, p));
    }
    if (s + 1 < stages) features_->push_back("merge" + std::to_string(s), SwinPatchMerging(dim));
  }
  const int features = embed << (stages - 1);
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({features}).eps(kSwinTransformerNormEps)));
  head_ = register_module("head", torch::nn::Linear(features, options.num_classes));

  // LEMUR's last init loop: every Linear (the MLPs' xavier init is overridden).
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      SwinTransformerTruncatedNormal(linear->weight, kInitStd);
      if (linear->bias.defined()) torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor SwinTransformerImpl::forward(const torch::Tensor& x) {
  // Average over the map of the normed channels-last features.
  return head_->forward(norm_->forward(features_->forward(x)).mean({1, 2}));
}

}  // namespace moe4::worker::lemur
