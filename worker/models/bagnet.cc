#include "worker/models/bagnet.h"

namespace moe4::worker {

BagNetUnitImpl::BagNetUnitImpl(int in, int mid, int out, int kernel, int stride) {
  reduce_ = register_module("reduce", ConvBnAct(in, mid, 1));
  spatial_ = register_module("spatial", ConvBnAct(mid, mid, kernel, stride));
  expand_ = register_module("expand", ConvBnAct(mid, out, 1, 1, 1, Activation::kNone));
  if (stride != 1 || in != out) {
    shortcut_ = register_module("shortcut", ConvBnAct(in, out, 1, stride, 1, Activation::kNone));
  }
}

torch::Tensor BagNetUnitImpl::forward(const torch::Tensor& x) {
  auto identity = shortcut_ ? shortcut_->forward(x) : x;
  auto y = expand_->forward(spatial_->forward(reduce_->forward(x)));
  return torch::relu(y + identity);
}

BagNetImpl::BagNetImpl(const ExpertOptions& options) {
  // BagNet's stem keeps full resolution (1x1 then 3x3); its reference events
  // are the strided first units of stages 1-3. The published BagNet uses
  // "valid" 3x3 convolutions; "same" padding here keeps 28x28 inputs legal.
  DownsamplePlan plan(options.image_size, 3);
  const int stem_width = ScaleChannels(64, options.width);
  stem_ = register_module("stem", torch::nn::Sequential(ConvBnAct(options.in_channels, stem_width, 1),
                                                        ConvBnAct(stem_width, stem_width, 3)));
  stages_ = register_module("stages", torch::nn::Sequential());
  const int kMid[] = {64, 128, 256, 512};
  const int kSpatialKernel[] = {3, 3, 3, 1};
  int in = stem_width;
  for (int stage = 0; stage < 4; ++stage) {
    const int mid = ScaleChannels(kMid[stage], options.width);
    const int out = 4 * mid;
    const int stride = stage < 3 ? plan.NextStride() : 1;
    stages_->push_back(BagNetUnit(in, mid, out, kSpatialKernel[stage], stride));
    stages_->push_back(BagNetUnit(out, mid, out, 1, 1));
    stages_->push_back(BagNetUnit(out, mid, out, 1, 1));
    in = out;
  }
  classifier_ = register_module("classifier", torch::nn::Linear(in, options.num_classes));
  InitWeights(*this);
}

torch::Tensor BagNetImpl::forward(const torch::Tensor& x) {
  auto y = stages_->forward(stem_->forward(x));
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  return classifier_->forward(y);
}

}  // namespace moe4::worker
