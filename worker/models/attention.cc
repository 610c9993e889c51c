#include "worker/models/attention.h"

#include <algorithm>
#include <cmath>

#include "worker/models/layers.h"

namespace moe4::worker {

int AttentionHeads(int dim, int head_dim) {
  for (int h = std::max(1, dim / head_dim); h > 1; --h) {
    if (dim % h == 0) return h;
  }
  return 1;
}

int WindowSideFor(int size, int preferred) {
  if (size <= preferred) return size;
  for (int side = preferred; side > preferred / 2; --side) {
    if (size % side == 0) return side;
  }
  return preferred;
}

torch::Tensor DropPathSamples(const torch::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  auto keep = torch::empty(shape, x.options()).bernoulli_(1.0 - p);
  return x * keep / (1.0 - p);
}

torch::Tensor MapToWindows(const torch::Tensor& x, int64_t side) {
  const int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  return x.reshape({b, h / side, side, w / side, side, c})
      .permute({0, 1, 3, 2, 4, 5})
      .reshape({-1, side * side, c});
}

torch::Tensor WindowsToMap(const torch::Tensor& windows, int64_t side, int64_t h, int64_t w) {
  const int64_t c = windows.size(-1);
  return windows.reshape({-1, h / side, w / side, side, side, c}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, h, w, c});
}

RelativePositionBiasImpl::RelativePositionBiasImpl(int side, int heads) : tokens_(int64_t{side} * side) {
  const int64_t span = 2 * side - 1;
  table_ = register_parameter("table", torch::zeros({span * span, heads}));
  {
    torch::NoGradGuard no_grad;
    table_.normal_(0.0, 0.02);
  }
  auto coords = torch::stack(torch::meshgrid({torch::arange(side), torch::arange(side)}, "ij")).flatten(1);  // [2, N]
  auto relative = coords.unsqueeze(2) - coords.unsqueeze(1);  // [2, N, N]
  auto index = (relative[0] + (side - 1)) * span + (relative[1] + (side - 1));
  index_ = register_buffer("index", index.flatten().to(torch::kLong));
}

torch::Tensor RelativePositionBiasImpl::forward() {
  return table_.index_select(0, index_).view({tokens_, tokens_, -1}).permute({2, 0, 1}).contiguous();
}

MultiHeadSelfAttentionImpl::MultiHeadSelfAttentionImpl(int dim, int heads, double dropout)
    : heads_(heads), scale_(1.0 / std::sqrt(static_cast<double>(dim / heads))) {
  qkv_ = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  proj_ = register_module("proj", torch::nn::Linear(dim, dim));
  dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
}

torch::Tensor MultiHeadSelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& bias,
                                                  const torch::Tensor& mask) {
  const int64_t b = x.size(0), n = x.size(1), c = x.size(2);
  auto qkv = qkv_->forward(x).view({b, n, 3, heads_, c / heads_}).permute({2, 0, 3, 1, 4});
  auto q = qkv[0] * scale_;
  auto attn = torch::matmul(q, qkv[1].transpose(-2, -1));  // [B, heads, N, N]
  if (bias.defined()) attn = attn + bias.unsqueeze(0);
  if (mask.defined()) {
    const int64_t windows = mask.size(0);
    attn = (attn.view({b / windows, windows, heads_, n, n}) + mask.unsqueeze(1).unsqueeze(0)).view({b, heads_, n, n});
  }
  attn = dropout_->forward(torch::softmax(attn, -1));
  auto y = torch::matmul(attn, qkv[2]).transpose(1, 2).reshape({b, n, c});
  return dropout_->forward(proj_->forward(y));
}

TransformerMlpImpl::TransformerMlpImpl(int dim, int hidden, double dropout) {
  fc1_ = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2_ = register_module("fc2", torch::nn::Linear(hidden, dim));
  dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
}

torch::Tensor TransformerMlpImpl::forward(const torch::Tensor& x) {
  return dropout_->forward(fc2_->forward(dropout_->forward(torch::gelu(fc1_->forward(x)))));
}

void InitTransformerWeights(torch::nn::Module& module) {
  InitWeights(module);
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/false)) {
    if (auto* linear = m->as<torch::nn::Linear>()) {
      linear->weight.normal_(0.0, 0.02);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* norm = m->as<torch::nn::LayerNorm>()) {
      if (norm->weight.defined()) norm->weight.fill_(1.0);
      if (norm->bias.defined()) norm->bias.zero_();
    }
  }
}

}  // namespace moe4::worker
