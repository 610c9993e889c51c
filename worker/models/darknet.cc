#include "worker/models/darknet.h"

#include <vector>

#include "worker/models/layers.h"

namespace moe4::worker {

DarkNetImpl::DarkNetImpl(const ExpertOptions& options) {
  // Darknet-19: each stage is 3x3 (c), then (1x1 (c/2), 3x3 (c)) repeated;
  // a max-pool follows every stage but the last.
  struct Stage {
    int channels;
    int pairs;  // (1x1, 3x3) pairs after the first 3x3
  };
  const Stage kStages[] = {{32, 0}, {64, 0}, {128, 1}, {256, 1}, {512, 2}, {1024, 2}};
  // Reference events: the five max-pools.
  DownsamplePlan plan(options.image_size, 5);
  features_ = register_module("features", torch::nn::Sequential());
  int in = options.in_channels;
  constexpr Activation kLeaky = Activation::kLeakyReLU;  // slope 0.1
  for (int s = 0; s < 6; ++s) {
    const int wide = ScaleChannels(kStages[s].channels, options.width);
    const int narrow = ScaleChannels(kStages[s].channels / 2, options.width);
    features_->push_back(ConvBnAct(in, wide, 3, 1, 1, kLeaky));
    for (int p = 0; p < kStages[s].pairs; ++p) {
      features_->push_back(ConvBnAct(wide, narrow, 1, 1, 1, kLeaky));
      features_->push_back(ConvBnAct(narrow, wide, 3, 1, 1, kLeaky));
    }
    if (s < 5 && plan.Next()) {
      features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
    }
    in = wide;
  }
  classifier_ = register_module("classifier", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, options.num_classes, 1)));
  InitWeights(*this);
  // The classifier conv is a linear layer per position: LibTorch's default
  // (fan-in) init, not Kaiming fan-out, which would start with huge logits.
  classifier_->reset_parameters();
}

torch::Tensor DarkNetImpl::forward(const torch::Tensor& x) {
  auto y = classifier_->forward(features_->forward(x));
  return torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
}

}  // namespace moe4::worker
