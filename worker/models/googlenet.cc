#include "worker/models/googlenet.h"

namespace moe4::worker {
namespace {

torch::nn::MaxPool2d Pool3x3(int stride) {
  // ceil_mode as in the reference: 112 -> 56 -> 28 -> 14 -> 7.
  return torch::nn::MaxPool2d(
      torch::nn::MaxPool2dOptions(3).stride(stride).padding(stride == 1 ? 1 : 0).ceil_mode(true));
}

}  // namespace

InceptionImpl::InceptionImpl(int in, int ch1x1, int ch3x3_reduce, int ch3x3, int ch5x5_reduce, int ch5x5, int pool_proj)
    : out_channels_(ch1x1 + ch3x3 + ch5x5 + pool_proj) {
  branch1_ = register_module("branch1", ConvBnAct(in, ch1x1, 1));
  branch2_ = register_module("branch2",
                             torch::nn::Sequential(ConvBnAct(in, ch3x3_reduce, 1), ConvBnAct(ch3x3_reduce, ch3x3, 3)));
  branch3_ = register_module("branch3",
                             torch::nn::Sequential(ConvBnAct(in, ch5x5_reduce, 1), ConvBnAct(ch5x5_reduce, ch5x5, 5)));
  branch4_ = register_module("branch4", ConvBnAct(in, pool_proj, 1));
}

torch::Tensor InceptionImpl::forward(const torch::Tensor& x) {
  auto pooled = torch::max_pool2d(x, 3, 1, 1);
  return torch::cat({branch1_->forward(x), branch2_->forward(x), branch3_->forward(x), branch4_->forward(pooled)}, 1);
}

GoogLeNetImpl::GoogLeNetImpl(const ExpertOptions& options) {
  const double w = options.width;
  auto c = [w](int reference) { return ScaleChannels(reference, w); };
  // Reference events: the stem conv and the four max-pools.
  DownsamplePlan plan(options.image_size, 5);
  features_ = register_module("features", torch::nn::Sequential());
  if (plan.Next()) {
    features_->push_back(ConvBnAct(options.in_channels, c(64), 7, 2));
  } else {
    features_->push_back(ConvBnAct(options.in_channels, c(64), 3, 1));  // small input: a CIFAR-style stem
  }
  if (plan.Next()) features_->push_back(Pool3x3(2));
  features_->push_back(ConvBnAct(c(64), c(64), 1));
  features_->push_back(ConvBnAct(c(64), c(192), 3));
  if (plan.Next()) features_->push_back(Pool3x3(2));
  // in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj (the paper's Table 1).
  struct Spec {
    int ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj;
    bool pool_after;
  };
  const Spec kModules[] = {
      {64, 96, 128, 16, 32, 32, false},      // 3a
      {128, 128, 192, 32, 96, 64, true},     // 3b
      {192, 96, 208, 16, 48, 64, false},     // 4a
      {160, 112, 224, 24, 64, 64, false},    // 4b
      {128, 128, 256, 24, 64, 64, false},    // 4c
      {112, 144, 288, 32, 64, 64, false},    // 4d
      {256, 160, 320, 32, 128, 128, true},   // 4e
      {256, 160, 320, 32, 128, 128, false},  // 5a
      {384, 192, 384, 48, 128, 128, false},  // 5b
  };
  int in = c(192);
  for (const auto& m : kModules) {
    Inception module(in, c(m.ch1x1), c(m.ch3x3_reduce), c(m.ch3x3), c(m.ch5x5_reduce), c(m.ch5x5), c(m.pool_proj));
    in = module->out_channels();
    features_->push_back(module);
    if (m.pool_after && plan.Next()) features_->push_back(Pool3x3(2));
  }
  dropout_ = register_module("dropout", torch::nn::Dropout(0.4));
  classifier_ = register_module("classifier", torch::nn::Linear(in, options.num_classes));
  InitWeights(*this);
}

torch::Tensor GoogLeNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(dropout_->forward(y));
}

}  // namespace moe4::worker
