#include "worker/models/unet2d.h"

#include <string>

#include "worker/models/layers.h"

namespace moe4::worker {
namespace {

torch::nn::Sequential DoubleConv(int in, int out) { return torch::nn::Sequential(ConvBnAct(in, out, 3), ConvBnAct(out, out, 3)); }

}  // namespace

UNetUpImpl::UNetUpImpl(int in, int out, bool upsample) {
  if (upsample) {
    up_ = torch::nn::AnyModule(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(in, out, 2).stride(2)));
  } else {
    up_ = torch::nn::AnyModule(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)));
  }
  register_module("up", up_.ptr());
  conv_ = register_module("conv", DoubleConv(2 * out, out));
}

torch::Tensor UNetUpImpl::forward(const torch::Tensor& x, const torch::Tensor& skip) {
  auto y = up_.forward(x);
  const int64_t dh = skip.size(2) - y.size(2), dw = skip.size(3) - y.size(3);
  if (dh != 0 || dw != 0) y = torch::constant_pad_nd(y, {dw / 2, dw - dw / 2, dh / 2, dh - dh / 2});
  return conv_->forward(torch::cat({skip, y}, 1));
}

UNet2DImpl::UNet2DImpl(const ExpertOptions& options) {
  const int kWidths[] = {64, 128, 256, 512, 1024};
  DownsamplePlan plan(options.image_size, 4);
  std::vector<int> widths;
  for (int reference : kWidths) widths.push_back(ScaleChannels(reference, options.width));
  int in = options.in_channels;
  for (size_t i = 0; i < widths.size(); ++i) {
    if (i > 0) pooled_.push_back(plan.Next());
    down_.push_back(register_module("down" + std::to_string(i), DoubleConv(in, widths[i])));
    in = widths[i];
  }
  for (size_t i = widths.size() - 1; i > 0; --i) {
    up_.push_back(register_module("up" + std::to_string(i), UNetUp(widths[i], widths[i - 1], pooled_[i - 1])));
  }
  head_ = register_module("head", torch::nn::Conv2d(torch::nn::Conv2dOptions(widths[0], options.num_classes, 1)));
  InitWeights(*this);
}

torch::Tensor UNet2DImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> skips;
  auto y = x;
  for (size_t i = 0; i < down_.size(); ++i) {
    if (i > 0 && pooled_[i - 1]) y = torch::max_pool2d(y, {2, 2}, {2, 2});
    y = down_[i]->forward(y);
    skips.push_back(y);
  }
  for (size_t j = 0; j < up_.size(); ++j) y = up_[j]->forward(y, skips[skips.size() - 2 - j]);
  return torch::adaptive_avg_pool2d(head_->forward(y), {1, 1}).flatten(1);
}

}  // namespace moe4::worker
