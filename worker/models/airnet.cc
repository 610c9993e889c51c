#include "worker/models/airnet.h"

namespace moe4::worker {

AirNetUnitImpl::AirNetUnitImpl(int in, int out, int stride) {
  conv1_ = register_module("conv1", ConvBnAct(in, out, 3, stride));
  conv2_ = register_module("conv2", ConvBnAct(out, out, 3, 1, 1, Activation::kNone));
  if (stride != 1 || in != out) {
    shortcut_ = register_module("shortcut", ConvBnAct(in, out, 1, stride, 1, Activation::kNone));
  }
}

torch::Tensor AirNetUnitImpl::forward(const torch::Tensor& x) {
  auto identity = shortcut_ ? shortcut_->forward(x) : x;
  return torch::relu(conv2_->forward(conv1_->forward(x)) + identity);
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
    stages_->push_back(AirNetUnit(in, out, stride));
    stages_->push_back(AirNetUnit(out, out, 1));
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
