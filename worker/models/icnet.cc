#include "worker/models/icnet.h"

#include <algorithm>
#include <string>

namespace moe4::worker {
namespace {

// A residual unit's body: two dilated 3x3 conv-BN layers with a ReLU between.
torch::nn::Sequential DilatedUnit(int channels, int dilation) {
  auto conv = [&] {
    return torch::nn::Conv2d(
        torch::nn::Conv2dOptions(channels, channels, 3).padding(dilation).dilation(dilation).bias(false));
  };
  return torch::nn::Sequential(conv(), torch::nn::BatchNorm2d(channels), torch::nn::ReLU(true), conv(),
                               torch::nn::BatchNorm2d(channels));
}

}  // namespace

PyramidPoolingImpl::PyramidPoolingImpl(int in, const std::vector<int>& bins) : bins_(bins) {
  const int reduced = std::max(1, in / static_cast<int>(bins.size()));
  for (size_t i = 0; i < bins.size(); ++i) {
    reduce_.push_back(register_module("bin" + std::to_string(bins[i]), ConvBnAct(in, reduced, 1)));
  }
  out_channels_ = in + reduced * static_cast<int>(bins.size());
}

torch::Tensor PyramidPoolingImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> parts{x};
  const std::vector<int64_t> size{x.size(2), x.size(3)};
  for (size_t i = 0; i < bins_.size(); ++i) {
    auto pooled = reduce_[i]->forward(torch::adaptive_avg_pool2d(x, {bins_[i], bins_[i]}));
    namespace F = torch::nn::functional;
    parts.push_back(F::interpolate(
        pooled, F::InterpolateFuncOptions().size(size).mode(torch::kBilinear).align_corners(true)));
  }
  return torch::cat(parts, 1);
}

ICNetImpl::ICNetImpl(const ExpertOptions& options) {
  DownsamplePlan plan(options.image_size, 3);
  const int kWidths[] = {64, 128, 256};
  downsample_ = register_module("downsample", torch::nn::Sequential());
  int in = options.in_channels;
  for (int reference : kWidths) {
    const int out = ScaleChannels(reference, options.width);
    downsample_->push_back(ConvBnAct(in, out, 3, plan.NextStride()));
    in = out;
  }
  for (int dilation : {2, 4}) {
    dilated_.push_back(register_module("dilated" + std::to_string(dilation), DilatedUnit(in, dilation)));
  }
  pyramid_ = register_module("pyramid", PyramidPooling(in, std::vector<int>{1, 2, 3, 6}));
  fuse_ = register_module("fuse", ConvBnAct(pyramid_->out_channels(), in, 3));
  dropout_ = register_module("dropout", torch::nn::Dropout(0.1));
  classifier_ = register_module("classifier", torch::nn::Linear(in, options.num_classes));
  InitWeights(*this);
}

torch::Tensor ICNetImpl::forward(const torch::Tensor& x) {
  auto y = downsample_->forward(x);
  for (auto& unit : dilated_) y = torch::relu(y + unit->forward(y));
  y = fuse_->forward(pyramid_->forward(y));
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  return classifier_->forward(dropout_->forward(y));
}

}  // namespace moe4::worker
