#include "worker/models/densenet.h"

#include "worker/models/layers.h"

namespace moe4::worker {
namespace {

torch::nn::Conv2d DensenetConv(int in, int out, int kernel, int stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

}  // namespace

DenseLayerImpl::DenseLayerImpl(int in, int growth, int bottleneck) {
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(in));
  conv1_ = register_module("conv1", DensenetConv(in, bottleneck, 1));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(bottleneck));
  conv2_ = register_module("conv2", DensenetConv(bottleneck, growth, 3));
}

torch::Tensor DenseLayerImpl::forward(const torch::Tensor& x) {
  auto y = conv1_->forward(torch::relu(bn1_->forward(x)));
  return conv2_->forward(torch::relu(bn2_->forward(y)));
}

DenseBlockImpl::DenseBlockImpl(int layers, int in, int growth, int bottleneck) {
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < layers; ++i) {
    layers_->push_back(DenseLayer(in + i * growth, growth, bottleneck));
  }
}

torch::Tensor DenseBlockImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> features{x};
  for (const auto& layer : *layers_) {
    features.push_back(layer->as<DenseLayer>()->forward(torch::cat(features, 1)));
  }
  return torch::cat(features, 1);
}

DenseNetImpl::DenseNetImpl(const ExpertOptions& options) {
  // Reference events: stem conv, stem pool, three transitions.
  DownsamplePlan plan(options.image_size, 5);
  const int growth = ScaleChannels(32, options.width, 4, 4);
  const int bottleneck = 4 * growth;
  int channels = 2 * growth;
  features_ = register_module("features", torch::nn::Sequential());
  if (plan.Next()) {
    features_->push_back(DensenetConv(options.in_channels, channels, 7, 2));
  } else {
    features_->push_back(DensenetConv(options.in_channels, channels, 3, 1));
  }
  features_->push_back(torch::nn::BatchNorm2d(channels));
  features_->push_back(torch::nn::ReLU(true));
  if (plan.Next()) {
    features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  }
  const int kLayers[] = {6, 12, 24, 16};
  for (int block = 0; block < 4; ++block) {
    features_->push_back(DenseBlock(kLayers[block], channels, growth, bottleneck));
    channels += kLayers[block] * growth;
    if (block < 3) {
      const int out = channels / 2;
      features_->push_back(torch::nn::BatchNorm2d(channels));
      features_->push_back(torch::nn::ReLU(true));
      features_->push_back(DensenetConv(channels, out, 1));
      if (plan.Next()) {
        features_->push_back(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(2).stride(2)));
      }
      channels = out;
    }
  }
  features_->push_back(torch::nn::BatchNorm2d(channels));
  features_->push_back(torch::nn::ReLU(true));
  classifier_ = register_module("classifier", torch::nn::Linear(channels, options.num_classes));
  InitWeights(*this);
}

torch::Tensor DenseNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(y);
}

}  // namespace moe4::worker
