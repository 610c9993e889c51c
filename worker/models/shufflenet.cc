#include "worker/models/shufflenet.h"

namespace moe4::worker {

torch::Tensor ChannelShuffle(const torch::Tensor& x, int64_t groups) {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  return x.view({b, groups, c / groups, h, w}).transpose(1, 2).contiguous().view({b, c, h, w});
}

ShuffleUnitImpl::ShuffleUnitImpl(int in, int out, int stride, bool first) : first_(first) {
  const int half = out / 2;
  const int right_in = first ? in : half;
  if (first) {
    left_ = register_module(
        "left", torch::nn::Sequential(ConvBnAct(in, in, 3, stride, in, Activation::kNone), ConvBnAct(in, half, 1)));
  }
  right_ = register_module("right", torch::nn::Sequential(ConvBnAct(right_in, half, 1),
                                                          ConvBnAct(half, half, 3, stride, half, Activation::kNone),
                                                          ConvBnAct(half, half, 1)));
}

torch::Tensor ShuffleUnitImpl::forward(const torch::Tensor& x) {
  torch::Tensor y;
  if (first_) {
    y = torch::cat({left_->forward(x), right_->forward(x)}, 1);
  } else {
    auto halves = x.chunk(2, 1);
    y = torch::cat({halves[0], right_->forward(halves[1])}, 1);
  }
  return ChannelShuffle(y, 2);
}

ShuffleNetImpl::ShuffleNetImpl(const ExpertOptions& options) {
  // Reference events: stem conv, stem pool, first unit of each stage.
  DownsamplePlan plan(options.image_size, 5);
  const double w = options.width;
  features_ = register_module("features", torch::nn::Sequential());
  const int stem = ScaleChannels(24, w);
  features_->push_back(ConvBnAct(options.in_channels, stem, 3, plan.NextStride()));
  if (plan.Next()) {
    features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  }
  const int kOut[] = {116, 232, 464};
  const int kRepeats[] = {4, 8, 4};
  int in = stem;
  for (int stage = 0; stage < 3; ++stage) {
    const int out = ScaleChannels(kOut[stage], w, 8, 8);  // even halves
    const int stride = plan.NextStride();
    for (int r = 0; r < kRepeats[stage]; ++r) {
      features_->push_back(ShuffleUnit(r == 0 ? in : out, out, r == 0 ? stride : 1, r == 0));
    }
    in = out;
  }
  const int last = ScaleChannels(1024, w);
  features_->push_back(ConvBnAct(in, last, 1));
  classifier_ = register_module("classifier", torch::nn::Linear(last, options.num_classes));
  InitWeights(*this);
}

torch::Tensor ShuffleNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(y);
}

}  // namespace moe4::worker
