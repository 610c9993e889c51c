#include "worker/models/lemur/bagnet.h"

#include <vector>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

namespace F = torch::nn::functional;

torch::nn::Conv2d BagnetConv(int in, int out, int kernel, int stride = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding((kernel - 1) / 2).bias(false));
}

}  // namespace

BagNetUnitImpl::BagNetUnitImpl(int in, int mid, int out, int stride, bool project) {
  conv1_ = register_module("conv1", BagnetConv(in, mid, 1));
  conv2_ = register_module("conv2", BagnetConv(mid, mid, 3, stride));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(mid));
  conv3_ = register_module("conv3", BagnetConv(mid, out, 1));
  // No stride here: LEMUR resizes the full-resolution shortcut instead.
  if (project) identity_conv_ = register_module("identity_conv", BagnetConv(in, out, 1));
}

torch::Tensor BagNetUnitImpl::forward(const torch::Tensor& x) {
  auto identity = identity_conv_ ? identity_conv_->forward(x) : x;
  auto y = torch::relu(conv1_->forward(x));
  y = torch::relu(bn2_->forward(conv2_->forward(y)));
  y = conv3_->forward(y);
  if (y.size(2) != identity.size(2) || y.size(3) != identity.size(3)) {
    identity = F::interpolate(identity, F::InterpolateFuncOptions()
                                            .size(std::vector<int64_t>{y.size(2), y.size(3)})
                                            .mode(torch::kBilinear)
                                            .align_corners(false));
  }
  return torch::relu(y + identity);
}

BagNetImpl::BagNetImpl(const ExpertOptions& options) {
  const double w = options.width;
  constexpr int kStem = 64;
  constexpr int kUnitsPerStage = 3;
  constexpr int kBottleneckFactor = 4;
  const int kStages[] = {64, 128, 256, 512};
  stem_conv_ = register_module("stem_conv", BagnetConv(options.in_channels, Scaled(kStem, w), 7, 2));
  stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(Scaled(kStem, w)));
  units_ = register_module("units", torch::nn::Sequential());
  int in = kStem;  // reference widths decide the structure, so it is the same at every width
  for (int i = 0; i < 4; ++i) {
    const int out = kStages[i];
    for (int j = 0; j < kUnitsPerStage; ++j) {
      const int stride = (j == 0 && i > 0) ? 2 : 1;
      units_->push_back(BagNetUnit(Scaled(in, w), Scaled(out / kBottleneckFactor, w), Scaled(out, w), stride,
                                   in != out || stride != 1));
      in = out;
    }
  }
  output_ = register_module("output", torch::nn::Linear(Scaled(in, w), options.num_classes));
}

torch::Tensor BagNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(stem_bn_->forward(stem_conv_->forward(x)));
  y = torch::max_pool2d(y, 3, 2, 1);
  y = units_->forward(y);
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  return output_->forward(y);
}

}  // namespace moe4::worker::lemur
