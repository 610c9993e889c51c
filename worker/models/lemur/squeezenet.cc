#include "worker/models/lemur/squeezenet.h"

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

constexpr double kSqueezenetDropout = 0.2;  // LEMUR's prm['dropout'] in the measured configuration

torch::nn::MaxPool2d CeilPool() {
  return torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).ceil_mode(true));
}

torch::nn::ReLU SqueezenetRelu() { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); }

}  // namespace

SqueezeNetFireImpl::SqueezeNetFireImpl(int in, int squeeze, int expand1x1, int expand3x3) {
  squeeze_ = register_module("squeeze", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, squeeze, 1)));
  expand1x1_ = register_module("expand1x1", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze, expand1x1, 1)));
  expand3x3_ =
      register_module("expand3x3", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze, expand3x3, 3).padding(1)));
}

torch::Tensor SqueezeNetFireImpl::forward(const torch::Tensor& x) {
  const auto s = torch::relu(squeeze_->forward(x));
  return torch::cat({torch::relu(expand1x1_->forward(s)), torch::relu(expand3x3_->forward(s))}, 1);
}

SqueezeNetImpl::SqueezeNetImpl(const ExpertOptions& options) {
  const double w = options.width;
  const int stem = Scaled(96, w);
  features_ = register_module("features", torch::nn::Sequential());
  features_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels, stem, 7).stride(2)));
  features_->push_back(SqueezenetRelu());
  features_->push_back(CeilPool());
  // {squeeze, expand} per Fire (both expand branches are equally wide); 0 = max-pool.
  constexpr int kFires[][2] = {{16, 64},  {16, 64},  {32, 128}, {0, 0}, {32, 128},
                               {48, 192}, {48, 192}, {64, 256}, {0, 0}, {64, 256}};
  int in = stem;
  for (const auto& fire : kFires) {
    if (fire[0] == 0) {
      features_->push_back(CeilPool());
      continue;
    }
    const int expand = Scaled(fire[1], w);
    features_->push_back(SqueezeNetFire(in, Scaled(fire[0], w), expand, expand));
    in = 2 * expand;
  }
  auto final_conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(in, options.num_classes, 1));
  classifier_ = register_module(
      "classifier", torch::nn::Sequential(torch::nn::Dropout(kSqueezenetDropout), final_conv, SqueezenetRelu(),
                                          torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1))));

  // LEMUR's explicit init.
  torch::NoGradGuard no_grad;
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2dImpl>()) {
      if (conv == final_conv.get()) {
        torch::nn::init::normal_(conv->weight, 0.0, 0.01);
      } else {
        torch::nn::init::kaiming_uniform_(conv->weight);
      }
      torch::nn::init::zeros_(conv->bias);
    }
  }
}

torch::Tensor SqueezeNetImpl::forward(const torch::Tensor& x) {
  return classifier_->forward(features_->forward(x)).flatten(1);
}

}  // namespace moe4::worker::lemur
