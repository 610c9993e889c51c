#include "worker/models/alexnet.h"

#include "worker/models/layers.h"

namespace moe4::worker {
namespace {

torch::nn::Conv2d AlexnetConv(int in, int out, int kernel, int stride, int padding) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

// torchvision pools 3x3/2 without padding; padding 1 keeps tiny maps >= 1x1.
torch::nn::MaxPool2d Pool(bool downsample) {
  return torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(downsample ? 2 : 1).padding(1));
}

}  // namespace

AlexNetImpl::AlexNetImpl(const ExpertOptions& options) {
  // Reference events: two for the stride-4 stem, one per max-pool (three).
  DownsamplePlan plan(options.image_size, 5);
  const bool stem_a = plan.Next();
  const bool stem_b = plan.Next();
  const int c1 = ScaleChannels(64, options.width);
  const int c2 = ScaleChannels(192, options.width);
  const int c3 = ScaleChannels(384, options.width);
  const int c4 = ScaleChannels(256, options.width);
  const int hidden = ScaleChannels(4096, options.width);

  features_ = register_module("features", torch::nn::Sequential());
  if (stem_a && stem_b) {
    features_->push_back(AlexnetConv(options.in_channels, c1, 11, 4, 2));
  } else if (stem_a || stem_b) {
    features_->push_back(AlexnetConv(options.in_channels, c1, 5, 2, 2));
  } else {
    features_->push_back(AlexnetConv(options.in_channels, c1, 3, 1, 1));
  }
  features_->push_back(torch::nn::ReLU(true));
  features_->push_back(Pool(plan.Next()));
  features_->push_back(AlexnetConv(c1, c2, 5, 1, 2));
  features_->push_back(torch::nn::ReLU(true));
  features_->push_back(Pool(plan.Next()));
  features_->push_back(AlexnetConv(c2, c3, 3, 1, 1));
  features_->push_back(torch::nn::ReLU(true));
  features_->push_back(AlexnetConv(c3, c4, 3, 1, 1));
  features_->push_back(torch::nn::ReLU(true));
  features_->push_back(AlexnetConv(c4, c4, 3, 1, 1));
  features_->push_back(torch::nn::ReLU(true));
  features_->push_back(Pool(plan.Next()));
  features_->push_back(torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions({6, 6})));

  classifier_ = register_module("classifier", torch::nn::Sequential());
  classifier_->push_back(torch::nn::Dropout(0.5));
  classifier_->push_back(torch::nn::Linear(c4 * 36, hidden));
  classifier_->push_back(torch::nn::ReLU(true));
  classifier_->push_back(torch::nn::Dropout(0.5));
  classifier_->push_back(torch::nn::Linear(hidden, hidden));
  classifier_->push_back(torch::nn::ReLU(true));
  classifier_->push_back(torch::nn::Linear(hidden, options.num_classes));
  InitWeights(*this);
}

torch::Tensor AlexNetImpl::forward(const torch::Tensor& x) {
  return classifier_->forward(features_->forward(x).flatten(1));
}

}  // namespace moe4::worker
