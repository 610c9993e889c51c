#include "worker/models/lemur/vgg.h"

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

constexpr double kVggDropout = 0.2;  // LEMUR's prm['dropout'] in the measured configuration
constexpr int kPool = 0;          // a 2x2 s2 max-pool in the configuration below

// torchvision's configuration "A" (VGG-11).
constexpr int kConfigA[] = {64, kPool, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool};

torch::nn::ReLU VggRelu() { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); }

}  // namespace

VGGImpl::VGGImpl(const ExpertOptions& options) {
  const double w = options.width;
  features_ = register_module("features", torch::nn::Sequential());
  int in = options.in_channels;
  for (int v : kConfigA) {
    if (v == kPool) {
      features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
      continue;
    }
    const int out = Scaled(v, w);
    features_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1)));
    features_->push_back(VggRelu());
    in = out;
  }
  avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions({7, 7})));
  const int hidden = Scaled(4096, w);
  classifier_ = register_module(
      "classifier", torch::nn::Sequential(torch::nn::Linear(in * 7 * 7, hidden), VggRelu(), torch::nn::Dropout(kVggDropout),
                                          torch::nn::Linear(hidden, hidden), VggRelu(), torch::nn::Dropout(kVggDropout),
                                          torch::nn::Linear(hidden, options.num_classes)));

  // LEMUR's explicit init (init_weights=True).
  torch::NoGradGuard no_grad;
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      torch::nn::init::zeros_(conv->bias);
    } else if (auto* linear = m->as<torch::nn::LinearImpl>()) {
      torch::nn::init::normal_(linear->weight, 0.0, 0.01);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor VGGImpl::forward(const torch::Tensor& x) {
  return classifier_->forward(avgpool_->forward(features_->forward(x)).flatten(1));
}

}  // namespace moe4::worker::lemur
