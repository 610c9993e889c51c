#include "worker/models/mnasnet.h"

namespace moe4::worker {

MnasBlockImpl::MnasBlockImpl(int in, int out, int kernel, int stride, int expansion)
    : residual_(stride == 1 && in == out) {
  const int mid = in * expansion;
  body_ = register_module("body", torch::nn::Sequential(ConvBnAct(in, mid, 1), ConvBnAct(mid, mid, kernel, stride, mid),
                                                        ConvBnAct(mid, out, 1, 1, 1, Activation::kNone)));
}

torch::Tensor MnasBlockImpl::forward(const torch::Tensor& x) {
  auto y = body_->forward(x);
  return residual_ ? y + x : y;
}

MNASNetImpl::MNASNetImpl(const ExpertOptions& options) {
  // Reference events: the stem and the first block of four stacks.
  DownsamplePlan plan(options.image_size, 5);
  const double a = options.width;
  const int c32 = ScaleChannels(32, a);
  const int c16 = ScaleChannels(16, a);
  features_ = register_module("features", torch::nn::Sequential());
  features_->push_back(ConvBnAct(options.in_channels, c32, 3, plan.NextStride()));
  features_->push_back(ConvBnAct(c32, c32, 3, 1, c32));                   // depthwise
  features_->push_back(ConvBnAct(c32, c16, 1, 1, 1, Activation::kNone));  // separable
  struct Stack {
    int expansion, kernel, stride, out, repeats;
  };
  const Stack kStacks[] = {{3, 3, 2, 24, 3}, {3, 5, 2, 40, 3},  {6, 5, 2, 80, 3},
                           {6, 3, 1, 96, 2}, {6, 5, 2, 192, 4}, {6, 3, 1, 320, 1}};
  int in = c16;
  for (const auto& s : kStacks) {
    const int out = ScaleChannels(s.out, a);
    const int stride = s.stride == 2 ? plan.NextStride() : 1;
    for (int r = 0; r < s.repeats; ++r) {
      features_->push_back(MnasBlock(in, out, s.kernel, r == 0 ? stride : 1, s.expansion));
      in = out;
    }
  }
  features_->push_back(ConvBnAct(in, 1280, 1));  // fixed 1280, as in MNASNet
  dropout_ = register_module("dropout", torch::nn::Dropout(0.2));
  classifier_ = register_module("classifier", torch::nn::Linear(1280, options.num_classes));
  InitWeights(*this);
}

torch::Tensor MNASNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(dropout_->forward(y));
}

}  // namespace moe4::worker
