#include "worker/models/airnet.h"

namespace moe4::worker {

namespace {

// The paper's reduction ratio: the gate's inner width is half the unit's.
constexpr int kAirRatio = 2;

}  // namespace

AirNetUnitImpl::AirNetUnitImpl(int in, int out, int stride, bool use_air) {
  conv1_ = register_module("conv1", ConvBnAct(in, out, 3, stride));
  conv2_ = register_module("conv2", ConvBnAct(out, out, 3, 1, 1, Activation::kNone));
  // The gate is computed at the input's resolution, so only for stride 1.
  if (use_air && stride == 1) air_ = register_module("air", AirBlock(in, out, /*groups=*/1, kAirRatio));
  if (stride != 1 || in != out) {
    shortcut_ = register_module("shortcut", ConvBnAct(in, out, 1, stride, 1, Activation::kNone));
  }
}

torch::Tensor AirNetUnitImpl::forward(const torch::Tensor& x) {
  auto identity = shortcut_ ? shortcut_->forward(x) : x;
  auto y = conv2_->forward(conv1_->forward(x));
  if (air_) y = y * air_->forward(x);
  return torch::relu(y + identity);
}

AirNetImpl::AirNetImpl(const ExpertOptions& options) {
  // Reference events: the stem and the first unit of stages 2-4.
  DownsamplePlan plan(options.image_size, 4);
  const int stem_width = ScaleChannels(64, options.width);
  stem_ = register_module("stem", ConvBnAct(options.in_channels, stem_width, 3, plan.NextStride()));
  stages_ = register_module("stages", torch::nn::Sequential());
  int in = stem_width;
  const int kReference[] = {64, 128, 256, 512};
  for (int stage = 0; stage < 4; ++stage) {
    const int out = ScaleChannels(kReference[stage], options.width);
    const int stride = stage == 0 ? 1 : plan.NextStride();
    // The paper's rule (stride 1, fewer than 512 channels), applied to the
    // reference design so that the structure does not depend on the input size.
    const bool air_in_stage = kReference[stage] < 512;
    stages_->push_back(AirNetUnit(in, out, stride, air_in_stage && stage == 0));
    stages_->push_back(AirNetUnit(out, out, 1, air_in_stage));
    in = out;
  }
  classifier_ = register_module("classifier", torch::nn::Linear(in, options.num_classes));
  InitWeights(*this);
}

torch::Tensor AirNetImpl::forward(const torch::Tensor& x) {
  auto y = stages_->forward(stem_->forward(x));
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  return classifier_->forward(y);
}

}  // namespace moe4::worker
