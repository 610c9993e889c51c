#include "worker/models/lemur/icnet.h"

#include <iterator>
#include <string>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

constexpr int kInitChannels = 64;  // the init block's output; its middle convs have half
constexpr int kHeadChannels = 128;
constexpr int64_t kPoolBins[] = {1, 2, 3, 6};

torch::nn::Conv2d IcnetConv(int in, int out, int kernel, int stride, int padding, bool bias) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(bias));
}

}  // namespace

ICNetInitBlockImpl::ICNetInitBlockImpl(int in, int out) {
  const int mid = out / 2;
  conv1_ = register_module("conv1", IcnetConv(in, mid, 3, 2, 1, true));
  conv2_ = register_module("conv2", IcnetConv(mid, mid, 3, 2, 1, true));
  conv3_ = register_module("conv3", IcnetConv(mid, out, 3, 2, 1, true));
}

torch::Tensor ICNetInitBlockImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(conv1_->forward(x));
  y = torch::relu(conv2_->forward(y));
  return torch::relu(conv3_->forward(y));
}

ICNetPspBlockImpl::ICNetPspBlockImpl(int channels) {
  const int branch = channels / static_cast<int>(std::size(kPoolBins));  // LEMUR's floor division
  for (int64_t bins : kPoolBins) {
    bins_.push_back(bins);
    stages_.push_back(
        register_module("stage" + std::to_string(stages_.size()), IcnetConv(channels, branch, 1, 1, 0, false)));
  }
  const int concat = channels + branch * static_cast<int>(stages_.size());
  bottleneck_ = register_module("bottleneck", IcnetConv(concat, channels, 1, 1, 0, false));
}

torch::Tensor ICNetPspBlockImpl::forward(const torch::Tensor& x) {
  const std::vector<int64_t> size = {x.size(2), x.size(3)};
  std::vector<torch::Tensor> parts = {x};
  for (size_t i = 0; i < stages_.size(); ++i) {
    auto pooled = stages_[i]->forward(torch::adaptive_avg_pool2d(x, {bins_[i], bins_[i]}));
    parts.push_back(torch::nn::functional::interpolate(
        pooled,
        torch::nn::functional::InterpolateFuncOptions().size(size).mode(torch::kBilinear).align_corners(false)));
  }
  return torch::relu(bottleneck_->forward(torch::cat(parts, 1)));
}

ICNetImpl::ICNetImpl(const ExpertOptions& options) {
  // Divisor 8: the init block halves the width and the pyramid quarters it.
  const int channels = Scaled(kInitChannels, options.width, 8);
  const int head = Scaled(kHeadChannels, options.width);
  init_block_ = register_module("init_block", ICNetInitBlock(options.in_channels, channels));
  psp_block_ = register_module("psp_block", ICNetPspBlock(channels));
  head_block_ = register_module("head_block", IcnetConv(channels, head, 1, 1, 0, true));
  classifier_ = register_module("classifier", torch::nn::Linear(head, options.num_classes));
}

torch::Tensor ICNetImpl::forward(const torch::Tensor& x) {
  auto y = head_block_->forward(psp_block_->forward(init_block_->forward(x)));
  return classifier_->forward(torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1));
}

}  // namespace moe4::worker::lemur
