#include "worker/models/lemur/mnasnet.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

constexpr double kAlpha = 0.75;  // LEMUR's hard-coded depth multiplier
constexpr double kMnasnetBatchNormMomentum = 1 - 0.9997;  // PyTorch convention (TF decay 0.9997)
constexpr double kMnasnetDropout = 0.2;  // prm['dropout']
constexpr int kHeadChannels = 1280;
// MNASNet-B1's depths before alpha: stem, stem output, then one per stack.
constexpr int kBaseDepths[] = {32, 16, 24, 40, 80, 96, 192, 320};

struct Stack {
  int kernel;
  int stride;
  int expansion;
  int repeats;
};
constexpr Stack kStacks[] = {{3, 2, 3, 3}, {5, 2, 3, 3}, {5, 2, 6, 3}, {3, 1, 6, 2}, {5, 2, 6, 4}, {3, 1, 6, 1}};

// torchvision's _round_to_multiple_of(value, 8, round_up_bias=0.9).
int RoundToMultipleOf(double value, int divisor) {
  const int rounded = std::max(divisor, static_cast<int>(value + divisor / 2.0) / divisor * divisor);
  return rounded >= 0.9 * value ? rounded : rounded + divisor;
}

torch::nn::BatchNorm2d BatchNorm(int channels) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).momentum(kMnasnetBatchNormMomentum));
}

torch::nn::Conv2d MnasnetConv(int in, int out, int kernel, int stride, int groups) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                               .stride(stride)
                               .padding(kernel / 2)
                               .groups(groups)
                               .bias(false));
}

}  // namespace

MNASNetInvertedResidualImpl::MNASNetInvertedResidualImpl(int in, int out, int kernel, int stride, int expansion)
    : residual_(in == out && stride == 1) {
  const int mid = in * expansion;
  layers_ = register_module("layers", torch::nn::Sequential());
  layers_->push_back("expand", MnasnetConv(in, mid, 1, 1, 1));
  layers_->push_back("expand_bn", BatchNorm(mid));
  layers_->push_back("expand_relu", torch::nn::ReLU());
  layers_->push_back("depthwise", MnasnetConv(mid, mid, kernel, stride, mid));
  layers_->push_back("depthwise_bn", BatchNorm(mid));
  layers_->push_back("depthwise_relu", torch::nn::ReLU());
  layers_->push_back("project", MnasnetConv(mid, out, 1, 1, 1));
  layers_->push_back("project_bn", BatchNorm(out));
}

torch::Tensor MNASNetInvertedResidualImpl::forward(const torch::Tensor& x) {
  auto y = layers_->forward(x);
  return residual_ ? y + x : y;
}

MNASNetImpl::MNASNetImpl(const ExpertOptions& options) {
  int depths[std::size(kBaseDepths)];
  for (size_t i = 0; i < std::size(kBaseDepths); ++i) {
    depths[i] = Scaled(RoundToMultipleOf(kBaseDepths[i] * kAlpha, 8), options.width);
  }
  const int head = Scaled(kHeadChannels, options.width);

  layers_ = register_module("layers", torch::nn::Sequential());
  layers_->push_back("stem_conv", MnasnetConv(options.in_channels, depths[0], 3, 2, 1));
  layers_->push_back("stem_bn", BatchNorm(depths[0]));
  layers_->push_back("stem_relu", torch::nn::ReLU());
  layers_->push_back("stem_depthwise", MnasnetConv(depths[0], depths[0], 3, 1, depths[0]));
  layers_->push_back("stem_depthwise_bn", BatchNorm(depths[0]));
  layers_->push_back("stem_depthwise_relu", torch::nn::ReLU());
  layers_->push_back("stem_project", MnasnetConv(depths[0], depths[1], 1, 1, 1));
  layers_->push_back("stem_project_bn", BatchNorm(depths[1]));  // linear bottleneck: no ReLU
  int channels = depths[1];
  for (size_t s = 0; s < std::size(kStacks); ++s) {
    const Stack& stack = kStacks[s];
    const int out = depths[s + 2];
    for (int r = 0; r < stack.repeats; ++r) {
      layers_->push_back("stack" + std::to_string(s + 1) + "_block" + std::to_string(r + 1),
                         MNASNetInvertedResidual(channels, out, stack.kernel, r == 0 ? stack.stride : 1,
                                                 stack.expansion));
      channels = out;
    }
  }
  layers_->push_back("head_conv", MnasnetConv(channels, head, 1, 1, 1));
  layers_->push_back("head_bn", BatchNorm(head));
  layers_->push_back("head_relu", torch::nn::ReLU());
  dropout_ = register_module("dropout", torch::nn::Dropout(kMnasnetDropout));
  classifier_ = register_module("classifier", torch::nn::Linear(head, options.num_classes));

  // LEMUR's explicit init (BatchNorm's ones/zeros are LibTorch's defaults).
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut, torch::kReLU);
    } else if (auto* linear = m->as<torch::nn::Linear>()) {
      torch::nn::init::kaiming_uniform_(linear->weight, 0, torch::kFanOut, torch::kSigmoid);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor MNASNetImpl::forward(const torch::Tensor& x) {
  auto y = layers_->forward(x).mean({2, 3});
  return classifier_->forward(dropout_->forward(y));
}

}  // namespace moe4::worker::lemur
