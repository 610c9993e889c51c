#include "worker/models/lemur/maxvit.h"

#include <cmath>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

// LEMUR's prm values and the constants its file fixes (MaxVit-T, partition 1).
constexpr double kMaxvitDropout = 0.2;              // prm dropout (the MLPs)
constexpr double kMaxvitAttentionDropout = 0.1;     // prm attention_dropout
constexpr double kStochasticDepthProb = 0.1;  // prm stochastic_depth_prob
constexpr double kBatchNormEps = 1e-3;
constexpr double kMaxvitBatchNormMomentum = 0.01;
constexpr double kInitStd = 0.02;
constexpr int kStemChannels = 64;
constexpr int kPartitionSize = 1;
constexpr int kMaxvitHeadDim = 32;
constexpr int kExpansion = 4;     // MBConv expansion_ratio
constexpr int kSqueezeDiv = 4;    // MBConv squeeze_ratio 0.25
constexpr int kMaxvitMlpRatio = 4;
struct Block {
  int channels;
  int layers;
};
constexpr Block kBlocks[] = {{64, 2}, {128, 2}, {256, 5}, {512, 2}};

// Output side of a 3x3 / stride 2 / padding 1 conv (or avg-pool).
int HalvedSide(int n) { return (n - 1) / 2 + 1; }

torch::nn::BatchNorm2d Norm(int channels) {
  return torch::nn::BatchNorm2d(
      torch::nn::BatchNorm2dOptions(channels).eps(kBatchNormEps).momentum(kMaxvitBatchNormMomentum));
}

// nn.init.trunc_normal_(t, std=std): mean 0, cut at the absolute bounds -2
// and 2 (not at 2 std), sampled through the inverse CDF as PyTorch does.
void MaxvitTruncatedNormal(torch::Tensor t, double std) {
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

MaxVitSqueezeExcitationImpl::MaxVitSqueezeExcitationImpl(int channels, int squeeze) {
  fc1_ = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, squeeze, 1)));
  fc2_ = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze, channels, 1)));
}

torch::Tensor MaxVitSqueezeExcitationImpl::forward(const torch::Tensor& x) {
  const auto pooled = torch::adaptive_avg_pool2d(x, {1, 1});
  return x * torch::sigmoid(fc2_->forward(torch::silu(fc1_->forward(pooled))));
}

MaxVitMBConvImpl::MaxVitMBConvImpl(int in_channels, int out_channels, int stride, double stochastic_depth_prob)
    : stochastic_depth_prob_(stochastic_depth_prob) {
  if (stride != 1 || in_channels != out_channels) {
    proj_ = torch::nn::Sequential();
    if (stride == 2) {
      proj_->push_back("pool", torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(3).stride(2).padding(1)));
    }
    proj_->push_back("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, 1)));
    register_module("proj", proj_);
  }
  const int mid = out_channels * kExpansion;
  using torch::nn::Conv2dOptions;
  layers_ = register_module("layers", torch::nn::Sequential());
  layers_->push_back("pre_norm", Norm(in_channels));
  layers_->push_back("conv_a", torch::nn::Conv2d(Conv2dOptions(in_channels, mid, 1).bias(false)));
  layers_->push_back("conv_a_norm", Norm(mid));
  layers_->push_back("conv_a_act", torch::nn::GELU());
  layers_->push_back("conv_b",
                     torch::nn::Conv2d(Conv2dOptions(mid, mid, 3).stride(stride).padding(1).groups(mid).bias(false)));
  layers_->push_back("conv_b_norm", Norm(mid));
  layers_->push_back("conv_b_act", torch::nn::GELU());
  layers_->push_back("squeeze_excitation", MaxVitSqueezeExcitation(mid, out_channels / kSqueezeDiv));
  layers_->push_back("conv_c", torch::nn::Conv2d(Conv2dOptions(mid, out_channels, 1)));
}

torch::Tensor MaxVitMBConvImpl::forward(const torch::Tensor& x) {
  const auto shortcut = proj_ ? proj_->forward(x) : x;
  return shortcut + DropRows(layers_->forward(x), stochastic_depth_prob_, is_training());
}

MaxVitRelativeAttentionImpl::MaxVitRelativeAttentionImpl(int feat_dim, int head_dim, int max_seq_len)
    : heads_(feat_dim / head_dim),
      head_dim_(head_dim),
      tokens_(max_seq_len),
      // torchvision scales by the whole feature width, not the head width.
      scale_(1.0 / std::sqrt(static_cast<double>(feat_dim))) {
  if (feat_dim % head_dim != 0) {
    throw std::invalid_argument("lemur MaxVit: feat_dim " + std::to_string(feat_dim) +
                                " must be divisible by head_dim " + std::to_string(head_dim));
  }
  const int64_t side = static_cast<int64_t>(std::sqrt(static_cast<double>(max_seq_len)));
  const int64_t span = 2 * side - 1;
  to_qkv_ = register_module("to_qkv", torch::nn::Linear(feat_dim, 3 * feat_dim));
  merge_ = register_module("merge", torch::nn::Linear(feat_dim, feat_dim));
  relative_position_bias_table_ =
      register_parameter("relative_position_bias_table", torch::empty({span * span, heads_}));
  // Row-major offset (dy, dx) between every pair of positions of the square.
  const auto coords =
      torch::stack(torch::meshgrid({torch::arange(side), torch::arange(side)}, "ij")).flatten(1);  // [2, N]
  const auto relative = coords.unsqueeze(2) - coords.unsqueeze(1);                                // [2, N, N]
  const auto index = (relative[0] + (side - 1)) * span + (relative[1] + (side - 1));
  relative_position_index_ = register_buffer("relative_position_index", index.flatten().to(torch::kLong));
  MaxvitTruncatedNormal(relative_position_bias_table_, kInitStd);
}

torch::Tensor MaxVitRelativeAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), g = x.size(1), p = x.size(2), d = x.size(3);
  // [3, B, G, heads, P, head_dim]: q, k, v are consecutive thirds of to_qkv.
  const auto qkv = to_qkv_->forward(x).view({b, g, p, 3, heads_, head_dim_}).permute({3, 0, 1, 4, 2, 5});
  auto attn = torch::matmul(qkv[0], (qkv[1] * scale_).transpose(-2, -1));  // [B, G, heads, P, P]
  const auto bias = relative_position_bias_table_.index_select(0, relative_position_index_)
                        .view({tokens_, tokens_, heads_})
                        .permute({2, 0, 1});
  attn = torch::softmax(attn + bias, -1);
  const auto out = torch::matmul(attn, qkv[2]).permute({0, 1, 3, 2, 4}).reshape({b, g, p, d});
  return merge_->forward(out);
}

MaxVitPartitionAttentionImpl::MaxVitPartitionAttentionImpl(int channels, int partition_size, bool grid,
                                                           int grid_size, double stochastic_depth_prob)
    : grid_(grid), grid_size_(grid_size), stochastic_depth_prob_(stochastic_depth_prob) {
  const int partitions = grid_size / partition_size;
  // A window cuts the map into partition_size squares; the grid cuts it into
  // `partitions` squares and attends across them (after swapping axes).
  p_ = grid ? partitions : partition_size;
  attn_norm_ = register_module("attn_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels})));
  attn_ = register_module("attn", MaxVitRelativeAttention(channels, kMaxvitHeadDim, partition_size * partition_size));
  attn_dropout_ = register_module("attn_dropout", torch::nn::Dropout(kMaxvitAttentionDropout));
  mlp_ = register_module("mlp", torch::nn::Sequential(torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels})),
                                                      torch::nn::Linear(channels, channels * kMaxvitMlpRatio),
                                                      torch::nn::GELU(),
                                                      torch::nn::Linear(channels * kMaxvitMlpRatio, channels),
                                                      torch::nn::Dropout(kMaxvitDropout)));
}

torch::Tensor MaxVitPartitionAttentionImpl::forward(const torch::Tensor& x) {
  if (p_ <= 0 || grid_size_ % p_ != 0) {
    throw std::invalid_argument("lemur MaxVit: grid size " + std::to_string(grid_size_) +
                                " is not divisible by partition size " + std::to_string(p_));
  }
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), p = p_;
  // The departition uses the grid size fixed at construction, as LEMUR does.
  const int64_t gh = grid_size_ / p, gw = grid_size_ / p;
  auto y = x.reshape({b, c, h / p, p, w / p, p}).permute({0, 2, 4, 3, 5, 1}).reshape({b, (h / p) * (w / p), p * p, c});
  if (grid_) y = y.transpose(1, 2);
  y = y + DropRows(attn_dropout_->forward(attn_->forward(attn_norm_->forward(y))), stochastic_depth_prob_,
                   is_training());
  y = y + DropRows(mlp_->forward(y), stochastic_depth_prob_, is_training());
  if (grid_) y = y.transpose(1, 2);
  return y.reshape({b, gh, gw, p, p, c}).permute({0, 5, 1, 3, 2, 4}).reshape({b, c, gh * p, gw * p});
}

MaxVitLayerImpl::MaxVitLayerImpl(int in_channels, int out_channels, int stride, int grid_size,
                                 double stochastic_depth_prob) {
  mbconv_ = register_module("MBconv", MaxVitMBConv(in_channels, out_channels, stride, stochastic_depth_prob));
  window_attention_ = register_module(
      "window_attention",
      MaxVitPartitionAttention(out_channels, kPartitionSize, /*grid=*/false, grid_size, stochastic_depth_prob));
  grid_attention_ = register_module(
      "grid_attention",
      MaxVitPartitionAttention(out_channels, kPartitionSize, /*grid=*/true, grid_size, stochastic_depth_prob));
}

torch::Tensor MaxVitLayerImpl::forward(const torch::Tensor& x) {
  return grid_attention_->forward(window_attention_->forward(mbconv_->forward(x)));
}

MaxVitImpl::MaxVitImpl(const ExpertOptions& options) {
  // LEMUR refuses at construction a size whose stem or block inputs the
  // partition size does not divide (never, with partition_size 1).
  int side = HalvedSide(options.image_size);
  for (size_t i = 0; i < std::size(kBlocks); ++i) {
    side = HalvedSide(side);
    if (side % kPartitionSize != 0) {
      throw std::invalid_argument("lemur MaxVit: input size of block " + std::to_string(i) +
                                  " is not divisible by the partition size");
    }
  }

  const int stem = Scaled(kStemChannels, options.width);
  using torch::nn::Conv2dOptions;
  stem_ = register_module("stem", torch::nn::Sequential());
  stem_->push_back("conv0", torch::nn::Conv2d(Conv2dOptions(options.in_channels, stem, 3).stride(2).padding(1).bias(false)));
  stem_->push_back("norm0", Norm(stem));
  stem_->push_back("act0", torch::nn::GELU());
  stem_->push_back("conv1", torch::nn::Conv2d(Conv2dOptions(stem, stem, 3).padding(1)));

  int total_layers = 0;
  for (const Block& block : kBlocks) total_layers += block.layers;
  blocks_ = register_module("blocks", torch::nn::Sequential());
  int grid = HalvedSide(options.image_size);
  int in = stem, layer_id = 0;
  for (size_t i = 0; i < std::size(kBlocks); ++i) {
    // Heads are 32 channels wide, so widths stay multiples of 32.
    const int out = Scaled(kBlocks[i].channels, options.width, kMaxvitHeadDim);
    grid = HalvedSide(grid);
    for (int j = 0; j < kBlocks[i].layers; ++j, ++layer_id) {
      // numpy.linspace(0, p, 11)[layer_id].
      const double p = kStochasticDepthProb * layer_id / (total_layers - 1.0);
      blocks_->push_back("block" + std::to_string(i) + "_layer" + std::to_string(j),
                         MaxVitLayer(j == 0 ? in : out, out, j == 0 ? 2 : 1, grid, p));
    }
    in = out;
  }

  classifier_ = register_module("classifier", torch::nn::Sequential());
  classifier_->push_back("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({in})));
  classifier_->push_back("fc", torch::nn::Linear(in, in));
  classifier_->push_back("act", torch::nn::Tanh());
  classifier_->push_back("head", torch::nn::Linear(torch::nn::LinearOptions(in, options.num_classes).bias(false)));

  // LEMUR's _init_weights: Conv2d and Linear weights N(0, 0.02), biases 0
  // (BatchNorm's 1 / 0 are LibTorch's defaults already).
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
    torch::nn::init::normal_(weight, 0.0, kInitStd);
    if (bias.defined()) torch::nn::init::zeros_(bias);
  }
}

torch::Tensor MaxVitImpl::forward(const torch::Tensor& x) {
  const auto features = blocks_->forward(stem_->forward(x));
  return classifier_->forward(torch::adaptive_avg_pool2d(features, {1, 1}).flatten(1));
}

}  // namespace moe4::worker::lemur
