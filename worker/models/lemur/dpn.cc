#include "worker/models/lemur/dpn.h"

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

constexpr int kGrowthRate = 32;  // LEMUR's channel count throughout
constexpr int kBlocks = 3;

torch::nn::Conv2d Conv3x3(int in, int out, int groups, bool bias) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).groups(groups).bias(bias));
}

}  // namespace

DpnBlockImpl::DpnBlockImpl(int channels, int groups, bool bias) {
  conv1_ = register_module("conv1", Conv3x3(channels, channels, groups, bias));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(channels));
  conv2_ = register_module("conv2", Conv3x3(channels, channels, groups, bias));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(channels));
}

torch::Tensor DpnBlockImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(bn1_->forward(conv1_->forward(x)));
  y = bn2_->forward(conv2_->forward(y));
  return torch::relu(y + x);
}

DpnResidualStackImpl::DpnResidualStackImpl(const ExpertOptions& options, int groups, bool bias, int divisor) {
  const int channels = Scaled(kGrowthRate, options.width, divisor);
  // The stem is never grouped (its input has 1 or 3 channels).
  stem_conv_ = register_module("stem_conv", Conv3x3(options.in_channels, channels, 1, bias));
  stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(channels));
  blocks_ = register_module("blocks", torch::nn::Sequential());
  for (int i = 0; i < kBlocks; ++i) blocks_->push_back(DpnBlock(channels, groups, bias));
  fc_ = register_module("fc", torch::nn::Linear(channels, options.num_classes));
}

torch::Tensor DpnResidualStackImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(stem_bn_->forward(stem_conv_->forward(x)));
  y = blocks_->forward(y);
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  return fc_->forward(y);
}

Dpn107Impl::Dpn107Impl(const ExpertOptions& options)
    : DpnResidualStackImpl(options, /*groups=*/4, /*bias=*/false, /*divisor=*/4) {}
torch::Tensor Dpn107Impl::forward(const torch::Tensor& x) { return DpnResidualStackImpl::forward(x); }

Dpn131Impl::Dpn131Impl(const ExpertOptions& options)
    : DpnResidualStackImpl(options, /*groups=*/1, /*bias=*/true, /*divisor=*/1) {}
torch::Tensor Dpn131Impl::forward(const torch::Tensor& x) { return DpnResidualStackImpl::forward(x); }

Dpn68Impl::Dpn68Impl(const ExpertOptions& options)
    : DpnResidualStackImpl(options, /*groups=*/1, /*bias=*/true, /*divisor=*/1) {}
torch::Tensor Dpn68Impl::forward(const torch::Tensor& x) { return DpnResidualStackImpl::forward(x); }

}  // namespace moe4::worker::lemur
