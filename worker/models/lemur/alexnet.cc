#include "worker/models/lemur/alexnet.h"

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

constexpr double kAlexnetDropout = 0.2;  // LEMUR's prm['dropout'] in the measured configuration

torch::nn::Conv2d AlexnetConv(int in, int out, int kernel, int stride, int padding) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

torch::nn::MaxPool2d Pool() { return torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2)); }

torch::nn::ReLU AlexnetRelu() { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); }

}  // namespace

AlexNetImpl::AlexNetImpl(const ExpertOptions& options) {
  const double w = options.width;
  const int c1 = Scaled(64, w);
  const int c2 = Scaled(192, w);
  const int c3 = Scaled(384, w);
  const int c4 = Scaled(256, w);
  const int c5 = Scaled(256, w);
  const int hidden = Scaled(4096, w);
  features_ = register_module(
      "features", torch::nn::Sequential(AlexnetConv(options.in_channels, c1, 11, 4, 2), AlexnetRelu(), Pool(),  //
                                        AlexnetConv(c1, c2, 5, 1, 2), AlexnetRelu(), Pool(),                    //
                                        AlexnetConv(c2, c3, 3, 1, 1), AlexnetRelu(),                            //
                                        AlexnetConv(c3, c4, 3, 1, 1), AlexnetRelu(),                            //
                                        AlexnetConv(c4, c5, 3, 1, 1), AlexnetRelu(), Pool(),
                                        torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions({6, 6}))));
  classifier_ = register_module(
      "classifier",
      torch::nn::Sequential(torch::nn::Dropout(kAlexnetDropout), torch::nn::Linear(c5 * 6 * 6, hidden), AlexnetRelu(),
                            torch::nn::Dropout(kAlexnetDropout), torch::nn::Linear(hidden, hidden), AlexnetRelu(),
                            torch::nn::Linear(hidden, options.num_classes)));
}

torch::Tensor AlexNetImpl::forward(const torch::Tensor& x) {
  return classifier_->forward(features_->forward(x).flatten(1));
}

}  // namespace moe4::worker::lemur
