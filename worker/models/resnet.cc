#include "worker/models/resnet.h"

#include <stdexcept>
#include <string>

namespace moe4::worker {

ResNetBasicBlockImpl::ResNetBasicBlockImpl(int in, int planes, int stride) {
  conv1_ = register_module("conv1", ConvBnAct(in, planes, 3, stride));
  conv2_ = register_module("conv2", ConvBnAct(planes, planes, 3, 1, 1, Activation::kNone));
  if (stride != 1 || in != planes) {
    shortcut_ = register_module("shortcut", ConvBnAct(in, planes, 1, stride, 1, Activation::kNone));
  }
}

torch::Tensor ResNetBasicBlockImpl::forward(const torch::Tensor& x) {
  auto identity = shortcut_ ? shortcut_->forward(x) : x;
  return torch::relu(conv2_->forward(conv1_->forward(x)) + identity);
}

ResNetBottleneckImpl::ResNetBottleneckImpl(int in, int planes, int stride) {
  const int out = planes * kExpansion;
  conv1_ = register_module("conv1", ConvBnAct(in, planes, 1));
  conv2_ = register_module("conv2", ConvBnAct(planes, planes, 3, stride));
  conv3_ = register_module("conv3", ConvBnAct(planes, out, 1, 1, 1, Activation::kNone));
  if (stride != 1 || in != out) {
    shortcut_ = register_module("shortcut", ConvBnAct(in, out, 1, stride, 1, Activation::kNone));
  }
}

torch::Tensor ResNetBottleneckImpl::forward(const torch::Tensor& x) {
  auto identity = shortcut_ ? shortcut_->forward(x) : x;
  return torch::relu(conv3_->forward(conv2_->forward(conv1_->forward(x))) + identity);
}

ResNetImpl::ResNetImpl(const ExpertOptions& options, int depth) {
  struct Config {
    int depth;
    bool bottleneck;
    int blocks[4];
  };
  static constexpr Config kConfigs[] = {
      {18, false, {2, 2, 2, 2}},  {34, false, {3, 4, 6, 3}},  {50, true, {3, 4, 6, 3}},
      {101, true, {3, 4, 23, 3}}, {152, true, {3, 8, 36, 3}},
  };
  const Config* config = nullptr;
  for (const auto& c : kConfigs) {
    if (c.depth == depth) config = &c;
  }
  if (config == nullptr) throw std::invalid_argument("ResNet depth must be 18/34/50/101/152, got " + std::to_string(depth));

  // Reference events: stem conv, stem max-pool, first block of stages 2-4.
  DownsamplePlan plan(options.image_size, 5);
  const int stem = ScaleChannels(64, options.width);
  stem_ = register_module("stem", torch::nn::Sequential());
  if (plan.Next()) {
    stem_->push_back(ConvBnAct(options.in_channels, stem, 7, 2));
  } else {
    stem_->push_back(ConvBnAct(options.in_channels, stem, 3, 1));
  }
  if (plan.Next()) stem_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));

  stages_ = register_module("stages", torch::nn::Sequential());
  int in = stem;
  const int kPlanes[] = {64, 128, 256, 512};
  for (int stage = 0; stage < 4; ++stage) {
    const int planes = ScaleChannels(kPlanes[stage], options.width);
    const int stride = stage == 0 ? 1 : plan.NextStride();
    for (int i = 0; i < config->blocks[stage]; ++i) {
      const int s = i == 0 ? stride : 1;
      if (config->bottleneck) {
        stages_->push_back(ResNetBottleneck(in, planes, s));
        in = planes * ResNetBottleneckImpl::kExpansion;
      } else {
        stages_->push_back(ResNetBasicBlock(in, planes, s));
        in = planes;
      }
    }
  }
  classifier_ = register_module("classifier", torch::nn::Linear(in, options.num_classes));
  InitWeights(*this);
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& x) {
  auto y = stages_->forward(stem_->forward(x));
  return classifier_->forward(torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1));
}

}  // namespace moe4::worker
