#include "worker/models/airnext.h"

#include <algorithm>
#include <cmath>

namespace moe4::worker {

AirBlockImpl::AirBlockImpl(int in, int out, int groups, int ratio) {
  const int mid = out / ratio;
  reduce_ = register_module("reduce", ConvBnAct(in, mid, 1));
  grouped_ = register_module("grouped", ConvBnAct(mid, mid, 3, 1, groups));
  expand_ = register_module("expand", torch::nn::Conv2d(torch::nn::Conv2dOptions(mid, out, 1).bias(false)));
  bn_ = register_module("bn", torch::nn::BatchNorm2d(out));
}

torch::Tensor AirBlockImpl::forward(const torch::Tensor& x) {
  auto y = torch::max_pool2d(reduce_->forward(x), 3, 2, 1);
  y = grouped_->forward(y);
  // Back to the input's size (the reference's x2 upsampling, exact for odd sides too).
  y = torch::nn::functional::interpolate(y, torch::nn::functional::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{x.size(2), x.size(3)})
                                                .mode(torch::kBilinear)
                                                .align_corners(true));
  return torch::sigmoid(bn_->forward(expand_->forward(y)));
}

AirNextUnitImpl::AirNextUnitImpl(int in, int out, int group_width, int cardinality, int stride, bool use_air) {
  conv1_ = register_module("conv1", ConvBnAct(in, group_width, 1));
  conv2_ = register_module("conv2", ConvBnAct(group_width, group_width, 3, stride, cardinality));
  conv3_ = register_module("conv3", ConvBnAct(group_width, out, 1, 1, 1, Activation::kNone));
  if (use_air) {
    constexpr int kRatio = 2;
    air_ = register_module("air", AirBlock(in, group_width, cardinality / kRatio, kRatio));
  }
  if (stride != 1 || in != out) {
    shortcut_ = register_module("shortcut", ConvBnAct(in, out, 1, stride, 1, Activation::kNone));
  }
}

torch::Tensor AirNextUnitImpl::forward(const torch::Tensor& x) {
  auto y = conv2_->forward(conv1_->forward(x));
  if (air_) y = y * air_->forward(x);
  y = conv3_->forward(y);
  return torch::relu(y + (shortcut_ ? shortcut_->forward(x) : x));
}

AirNextImpl::AirNextImpl(const ExpertOptions& options) {
  const double w = options.width;
  constexpr int kCardinality = 32;
  constexpr int kBottleneckWidth = 4;  // channels per group in stage 1 at width 1.0
  const int kUnits[] = {3, 4, 6, 3};
  const int kOut[] = {256, 512, 1024, 2048};
  // Reference events: stem conv, stem max-pool, first unit of stages 2-4.
  DownsamplePlan plan(options.image_size, 5);
  features_ = register_module("features", torch::nn::Sequential());
  const int stem = ScaleChannels(64, w);
  const int stem_mid = ScaleChannels(32, w);
  features_->push_back(ConvBnAct(options.in_channels, stem_mid, 3, plan.NextStride()));
  features_->push_back(ConvBnAct(stem_mid, stem_mid, 3));
  features_->push_back(ConvBnAct(stem_mid, stem, 3));
  if (plan.Next()) features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  int in = stem;
  for (int stage = 0; stage < 4; ++stage) {
    const int out = ScaleChannels(kOut[stage], w);
    const int per_group = std::max(1, static_cast<int>(std::lround(kBottleneckWidth * (1 << stage) * w)));
    const int group_width = kCardinality * per_group;
    for (int u = 0; u < kUnits[stage]; ++u) {
      const bool downsamples = u == 0 && stage > 0;  // in the reference design
      const int stride = downsamples ? plan.NextStride() : 1;
      // The reference uses the air branch where stride == 1 and the bottleneck
      // is below 512 channels: every unit but the first of stages 2-4, stage 4 excluded.
      const bool use_air = !downsamples && stage < 3;
      features_->push_back(AirNextUnit(in, out, group_width, kCardinality, stride, use_air));
      in = out;
    }
  }
  classifier_ = register_module("classifier", torch::nn::Linear(in, options.num_classes));
  InitWeights(*this);
}

torch::Tensor AirNextImpl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(y);
}

}  // namespace moe4::worker
