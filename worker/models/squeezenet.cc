#include "worker/models/squeezenet.h"

#include "worker/models/layers.h"

namespace moe4::worker {
namespace {

// ReLU as a Sequential element (in place is fine: each follows a conv/pool).
torch::nn::ReLU SqueezenetRelu() { return torch::nn::ReLU(torch::nn::ReLUOptions(true)); }

torch::nn::MaxPool2d Pool() { return torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).ceil_mode(true)); }

}  // namespace

FireModuleImpl::FireModuleImpl(int in, int squeeze, int expand1x1, int expand3x3) {
  squeeze_ = register_module("squeeze", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, squeeze, 1)));
  expand1x1_ = register_module("expand1x1", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze, expand1x1, 1)));
  expand3x3_ =
      register_module("expand3x3", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze, expand3x3, 3).padding(1)));
}

torch::Tensor FireModuleImpl::forward(const torch::Tensor& x) {
  auto s = torch::relu(squeeze_->forward(x));
  return torch::cat({torch::relu(expand1x1_->forward(s)), torch::relu(expand3x3_->forward(s))}, 1);
}

SqueezeNetImpl::SqueezeNetImpl(const ExpertOptions& options) {
  // Reference events: conv1's stride and the three max-pools.
  DownsamplePlan plan(options.image_size, 4);
  const double w = options.width;
  features_ = register_module("features", torch::nn::Sequential());
  const int stem = ScaleChannels(96, w);
  if (plan.Next()) {
    features_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels, stem, 7).stride(2).padding(3)));
  } else {
    features_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels, stem, 3).padding(1)));
  }
  features_->push_back(SqueezenetRelu());
  int in = stem;
  // {squeeze, expand} per fire module (both expand branches are equal); a
  // zero entry is a max-pool position.
  const int kFires[][2] = {{0, 0},    {16, 64}, {16, 64}, {32, 128}, {0, 0},
                           {32, 128}, {48, 192}, {48, 192}, {64, 256}, {0, 0}, {64, 256}};
  for (const auto& fire : kFires) {
    if (fire[0] == 0) {
      if (plan.Next()) features_->push_back(Pool());
      continue;
    }
    const int squeeze = ScaleChannels(fire[0], w);
    const int expand = ScaleChannels(fire[1], w);
    features_->push_back(FireModule(in, squeeze, expand, expand));
    in = 2 * expand;
  }
  dropout_ = register_module("dropout", torch::nn::Dropout(0.5));
  classifier_ = register_module("classifier", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, options.num_classes, 1)));
  // torchvision's init: without batch norm, fan-in Kaiming keeps the
  // activations' scale through the squeeze (many -> few) convs.
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_uniform_(conv->weight, 0.0, torch::kFanIn, torch::kReLU);
      conv->bias.zero_();
    }
  }
  classifier_->weight.normal_(0.0, 0.01);
}

torch::Tensor SqueezeNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(classifier_->forward(dropout_->forward(features_->forward(x))));
  return torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
}

}  // namespace moe4::worker
