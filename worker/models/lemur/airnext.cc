#include "worker/models/lemur/airnext.h"

#include <vector>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

namespace F = torch::nn::functional;

torch::nn::Conv2d AirnextConv(int in, int out, int kernel, int stride = 1, int groups = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).groups(groups).bias(false));
}

}  // namespace

AirBlockImpl::AirBlockImpl(int in, int out, int groups, int mid) {
  conv1_ = register_module("conv1", AirnextConv(in, mid, 1));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(mid));
  conv2_ = register_module("conv2", AirnextConv(mid, mid, 3, 1, groups));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(mid));
  conv3_ = register_module("conv3", AirnextConv(mid, out, 1));
  bn3_ = register_module("bn3", torch::nn::BatchNorm2d(out));
}

torch::Tensor AirBlockImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(bn1_->forward(conv1_->forward(x)));
  y = torch::max_pool2d(y, 3, 2, 1);
  y = torch::relu(bn2_->forward(conv2_->forward(y)));
  // LEMUR doubles the pooled side, which overshoots odd inputs by one pixel;
  // the unit then resizes the gate to its input (below).
  y = F::interpolate(y, F::InterpolateFuncOptions()
                            .scale_factor(std::vector<double>{2.0, 2.0})
                            .mode(torch::kBilinear)
                            .align_corners(true));
  return torch::sigmoid(bn3_->forward(conv3_->forward(y)));
}

AirNeXtUnitImpl::AirNeXtUnitImpl(int in, int out, int group_width, int cardinality, int stride, int air_mid,
                                 int air_groups, bool project) {
  conv1_ = register_module("conv1", AirnextConv(in, group_width, 1));
  conv2_ = register_module("conv2", AirnextConv(group_width, group_width, 3, stride, cardinality));
  conv3_ = register_module("conv3", AirnextConv(group_width, out, 1));
  if (air_mid > 0) air_ = register_module("air", AirBlock(in, group_width, air_groups, air_mid));
  if (project) identity_conv_ = register_module("identity_conv", AirnextConv(in, out, 1, stride));
}

torch::Tensor AirNeXtUnitImpl::forward(const torch::Tensor& x) {
  torch::Tensor gate;
  if (air_) {
    gate = F::interpolate(air_->forward(x), F::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{x.size(2), x.size(3)})
                                                .mode(torch::kBilinear)
                                                .align_corners(true));
  }
  const auto identity = identity_conv_ ? identity_conv_->forward(x) : x;
  auto y = conv2_->forward(conv1_->forward(x));
  if (air_) y = y * gate;
  y = conv3_->forward(y);
  return torch::relu(y + identity);
}

AirNextImpl::AirNextImpl(const ExpertOptions& options) {
  const double w = options.width;
  constexpr int kStem = 64;
  constexpr int kCardinality = 32;
  constexpr int kBottleneckWidth = 4;
  constexpr int kRatio = 2;  // the air gate's middle width: group width / 2, in 32 / 2 groups
  constexpr int kUnitsPerStage = 3;
  const int kStages[] = {64, 128, 256, 512};
  stem_conv_ = register_module("stem_conv", AirnextConv(options.in_channels, Scaled(kStem, w), 7, 2));
  stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(Scaled(kStem, w)));
  units_ = register_module("units", torch::nn::Sequential());
  int in = kStem;  // reference widths decide the structure, so it is the same at every width
  for (int i = 0; i < 4; ++i) {
    const int out = kStages[i];
    const int mid = out / 4;
    // LEMUR: D = floor(mid * bottleneck_width / 64), group width = cardinality * D.
    const int group_width_ref = kCardinality * (mid * kBottleneckWidth / 64);
    // A multiple of 32 keeps both the 32-group conv and the air gate's
    // 16-group conv on group_width / 2 channels valid at any width.
    const int group_width = Scaled(group_width_ref, w, kCardinality);
    for (int j = 0; j < kUnitsPerStage; ++j) {
      const int stride = (j == 0 && i != 0) ? 2 : 1;
      const bool use_air = stride == 1 && mid < 512;  // LEMUR's rule; mid <= 128 here, so every stride-1 unit
      units_->push_back(AirNeXtUnit(Scaled(in, w), Scaled(out, w), group_width, kCardinality, stride,
                                    use_air ? group_width / kRatio : 0, kCardinality / kRatio,
                                    in != out || stride != 1));
      in = out;
    }
  }
  output_ = register_module("output", torch::nn::Linear(Scaled(in, w), options.num_classes));
}

torch::Tensor AirNextImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(stem_bn_->forward(stem_conv_->forward(x)));
  y = torch::max_pool2d(y, 3, 2, 1);
  y = units_->forward(y);
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  return output_->forward(y);
}

}  // namespace moe4::worker::lemur
