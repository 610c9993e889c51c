#include "worker/models/vgg.h"

#include "worker/models/layers.h"

namespace moe4::worker {

VGGImpl::VGGImpl(const ExpertOptions& options) {
  // Configuration D: channels per conv, block by block.
  const std::vector<std::vector<int>> kBlocks = {{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}};
  DownsamplePlan plan(options.image_size, static_cast<int>(kBlocks.size()));
  features_ = register_module("features", torch::nn::Sequential());
  int in = options.in_channels;
  for (const auto& block : kBlocks) {
    for (int channels : block) {
      const int out = ScaleChannels(channels, options.width);
      features_->push_back(ConvBnAct(in, out, 3));
      in = out;
    }
    if (plan.Next()) features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
  }
  const int hidden = ScaleChannels(4096, options.width);
  classifier_ = register_module("classifier", torch::nn::Sequential());
  classifier_->push_back(torch::nn::Linear(in, hidden));
  classifier_->push_back(torch::nn::ReLU(true));
  classifier_->push_back(torch::nn::Dropout(0.5));
  classifier_->push_back(torch::nn::Linear(hidden, hidden));
  classifier_->push_back(torch::nn::ReLU(true));
  classifier_->push_back(torch::nn::Dropout(0.5));
  classifier_->push_back(torch::nn::Linear(hidden, options.num_classes));
  InitWeights(*this);
}

torch::Tensor VGGImpl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(y);
}

}  // namespace moe4::worker
