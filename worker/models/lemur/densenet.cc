#include "worker/models/lemur/densenet.h"

#include <iterator>
#include <string>
#include <vector>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

// DenseNet-121's layout, as LEMUR's file fixes it.
constexpr int kGrowth = 32;
constexpr int kInitFeatures = 64;
constexpr int kBlockLayers[] = {6, 12, 24, 16};
// LEMUR reads in_shape[0] (the batch size) here; see the header.
constexpr int kBottleneckFactor = 4;
// prm['dropout'] of LEMUR's measurements.
constexpr double kDropRate = 0.2;

torch::nn::Conv2d DensenetConv(int in, int out, int kernel, int stride, int padding) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
}

}  // namespace

DenseNetLayerImpl::DenseNetLayerImpl(int in_channels, int growth, int bottleneck_factor, double drop_rate)
    : drop_rate_(drop_rate) {
  const int bottleneck = bottleneck_factor * growth;
  norm1_ = register_module("norm1", torch::nn::BatchNorm2d(in_channels));
  conv1_ = register_module("conv1", DensenetConv(in_channels, bottleneck, 1, 1, 0));
  norm2_ = register_module("norm2", torch::nn::BatchNorm2d(bottleneck));
  conv2_ = register_module("conv2", DensenetConv(bottleneck, growth, 3, 1, 1));
}

torch::Tensor DenseNetLayerImpl::forward(const torch::Tensor& x) {
  auto y = conv1_->forward(torch::relu(norm1_->forward(x)));
  y = conv2_->forward(torch::relu(norm2_->forward(y)));
  if (drop_rate_ > 0) y = torch::dropout(y, drop_rate_, is_training());
  return y;
}

DenseNetBlockImpl::DenseNetBlockImpl(int layers, int in_channels, int growth, int bottleneck_factor,
                                     double drop_rate) {
  for (int i = 0; i < layers; ++i) {
    layers_.push_back(register_module("denselayer" + std::to_string(i + 1),
                                      DenseNetLayer(in_channels + i * growth, growth, bottleneck_factor,
                                                    drop_rate)));
  }
}

torch::Tensor DenseNetBlockImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> features{x};
  for (auto& layer : layers_) features.push_back(layer->forward(torch::cat(features, 1)));
  return torch::cat(features, 1);
}

DenseNetTransitionImpl::DenseNetTransitionImpl(int in_channels, int out_channels) {
  norm_ = register_module("norm", torch::nn::BatchNorm2d(in_channels));
  conv_ = register_module("conv", DensenetConv(in_channels, out_channels, 1, 1, 0));
}

torch::Tensor DenseNetTransitionImpl::forward(const torch::Tensor& x) {
  return torch::avg_pool2d(conv_->forward(torch::relu(norm_->forward(x))), 2, 2);
}

DenseNetImpl::DenseNetImpl(const ExpertOptions& options) {
  const int growth = Scaled(kGrowth, options.width);
  int channels = Scaled(kInitFeatures, options.width);

  features_ = register_module("features", torch::nn::Sequential());
  features_->push_back("conv0", DensenetConv(options.in_channels, channels, 7, 2, 3));
  features_->push_back("norm0", torch::nn::BatchNorm2d(channels));
  features_->push_back("relu0", torch::nn::ReLU());
  features_->push_back("pool0", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  const int blocks = static_cast<int>(std::size(kBlockLayers));
  for (int i = 0; i < blocks; ++i) {
    features_->push_back("denseblock" + std::to_string(i + 1),
                         DenseNetBlock(kBlockLayers[i], channels, growth, kBottleneckFactor, kDropRate));
    channels += kBlockLayers[i] * growth;
    if (i != blocks - 1) {
      features_->push_back("transition" + std::to_string(i + 1), DenseNetTransition(channels, channels / 2));
      channels /= 2;
    }
  }
  features_->push_back("norm5", torch::nn::BatchNorm2d(channels));
  classifier_ = register_module("classifier", torch::nn::Linear(channels, options.num_classes));

  // LEMUR's explicit init (BatchNorm's ones/zeros are LibTorch's defaults).
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight);
    } else if (auto* linear = m->as<torch::nn::Linear>()) {
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor DenseNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(features_->forward(x));
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  return classifier_->forward(y);
}

}  // namespace moe4::worker::lemur
