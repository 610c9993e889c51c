#include "worker/models/lemur/googlenet.h"

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

constexpr double kBnEps = 1e-3;
constexpr double kGooglenetDropout = 0.2;     // prm['dropout']
constexpr double kDropoutAux = 0.7;  // prm['dropout_aux']
constexpr int kAuxConvChannels = 128;
constexpr int kAuxHidden = 1024;
constexpr int kAuxPool = 4;  // the heads pool to 4x4 whatever the input size

// One Inception module's channel table (torchvision's, per the paper).
struct InceptionSpec {
  int ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj;
};
constexpr InceptionSpec k3a{64, 96, 128, 16, 32, 32};
constexpr InceptionSpec k3b{128, 128, 192, 32, 96, 64};
constexpr InceptionSpec k4a{192, 96, 208, 16, 48, 64};
constexpr InceptionSpec k4b{160, 112, 224, 24, 64, 64};
constexpr InceptionSpec k4c{128, 128, 256, 24, 64, 64};
constexpr InceptionSpec k4d{112, 144, 288, 32, 64, 64};
constexpr InceptionSpec k4e{256, 160, 320, 32, 128, 128};
constexpr InceptionSpec k5a{256, 160, 320, 32, 128, 128};
constexpr InceptionSpec k5b{384, 192, 384, 48, 128, 128};

GoogLeNetInception MakeInception(int in, const InceptionSpec& s, double width) {
  return GoogLeNetInception(in, Scaled(s.ch1x1, width), Scaled(s.ch3x3_reduce, width), Scaled(s.ch3x3, width),
                            Scaled(s.ch5x5_reduce, width), Scaled(s.ch5x5, width), Scaled(s.pool_proj, width));
}

torch::Tensor MaxPoolCeil(const torch::Tensor& x, int kernel, int stride) {
  return torch::max_pool2d(x, kernel, stride, /*padding=*/0, /*dilation=*/1, /*ceil_mode=*/true);
}

}  // namespace

GoogLeNetConvImpl::GoogLeNetConvImpl(int in, int out, int kernel, int stride, int padding) {
  conv_ = register_module(
      "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false)));
  bn_ = register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).eps(kBnEps)));
}

torch::Tensor GoogLeNetConvImpl::forward(const torch::Tensor& x) {
  return torch::relu(bn_->forward(conv_->forward(x)));
}

GoogLeNetInceptionImpl::GoogLeNetInceptionImpl(int in, int ch1x1, int ch3x3_reduce, int ch3x3, int ch5x5_reduce,
                                               int ch5x5, int pool_proj)
    : out_channels_(ch1x1 + ch3x3 + ch5x5 + pool_proj) {
  branch1_ = register_module("branch1", GoogLeNetConv(in, ch1x1, 1));
  branch2_ = register_module("branch2", torch::nn::Sequential(GoogLeNetConv(in, ch3x3_reduce, 1),
                                                              GoogLeNetConv(ch3x3_reduce, ch3x3, 3, 1, 1)));
  branch3_ = register_module("branch3", torch::nn::Sequential(GoogLeNetConv(in, ch5x5_reduce, 1),
                                                              GoogLeNetConv(ch5x5_reduce, ch5x5, 3, 1, 1)));
  branch4_ = register_module("branch4", GoogLeNetConv(in, pool_proj, 1));
}

torch::Tensor GoogLeNetInceptionImpl::forward(const torch::Tensor& x) {
  const auto pooled = torch::max_pool2d(x, 3, 1, /*padding=*/1, /*dilation=*/1, /*ceil_mode=*/true);
  return torch::cat({branch1_->forward(x), branch2_->forward(x), branch3_->forward(x), branch4_->forward(pooled)}, 1);
}

GoogLeNetAuxImpl::GoogLeNetAuxImpl(int in, int conv_channels, int hidden, int num_classes) {
  conv_ = register_module("conv", GoogLeNetConv(in, conv_channels, 1));
  fc1_ = register_module("fc1", torch::nn::Linear(conv_channels * kAuxPool * kAuxPool, hidden));
  fc2_ = register_module("fc2", torch::nn::Linear(hidden, num_classes));
  dropout_ = register_module("dropout", torch::nn::Dropout(kDropoutAux));
}

torch::Tensor GoogLeNetAuxImpl::forward(const torch::Tensor& x) {
  auto y = conv_->forward(torch::adaptive_avg_pool2d(x, {kAuxPool, kAuxPool})).flatten(1);
  return fc2_->forward(dropout_->forward(torch::relu(fc1_->forward(y))));
}

GoogLeNetImpl::GoogLeNetImpl(const ExpertOptions& options) {
  const double w = options.width;
  const int stem1 = Scaled(64, w);
  const int stem2 = Scaled(192, w);
  conv1_ = register_module("conv1", GoogLeNetConv(options.in_channels, stem1, 7, 2, 3));
  conv2_ = register_module("conv2", GoogLeNetConv(stem1, stem1, 1));
  conv3_ = register_module("conv3", GoogLeNetConv(stem1, stem2, 3, 1, 1));

  inception3a_ = register_module("inception3a", MakeInception(stem2, k3a, w));
  inception3b_ = register_module("inception3b", MakeInception(inception3a_->out_channels(), k3b, w));
  inception4a_ = register_module("inception4a", MakeInception(inception3b_->out_channels(), k4a, w));
  inception4b_ = register_module("inception4b", MakeInception(inception4a_->out_channels(), k4b, w));
  inception4c_ = register_module("inception4c", MakeInception(inception4b_->out_channels(), k4c, w));
  inception4d_ = register_module("inception4d", MakeInception(inception4c_->out_channels(), k4d, w));
  inception4e_ = register_module("inception4e", MakeInception(inception4d_->out_channels(), k4e, w));
  inception5a_ = register_module("inception5a", MakeInception(inception4e_->out_channels(), k5a, w));
  inception5b_ = register_module("inception5b", MakeInception(inception5a_->out_channels(), k5b, w));

  const int aux_conv = Scaled(kAuxConvChannels, w);
  const int aux_hidden = Scaled(kAuxHidden, w);
  aux1_ =
      register_module("aux1", GoogLeNetAux(inception4a_->out_channels(), aux_conv, aux_hidden, options.num_classes));
  aux2_ =
      register_module("aux2", GoogLeNetAux(inception4d_->out_channels(), aux_conv, aux_hidden, options.num_classes));

  dropout_ = register_module("dropout", torch::nn::Dropout(kGooglenetDropout));
  fc_ = register_module("fc", torch::nn::Linear(inception5b_->out_channels(), options.num_classes));

  // LEMUR's init: trunc_normal_(std 0.01, a -2, b 2) on conv and linear
  // weights. LibTorch has no truncated normal; at 200 standard deviations the
  // bounds never bind, so a normal draw clamped to them is the same
  // distribution.
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      conv->weight.normal_(0.0, 0.01).clamp_(-2.0, 2.0);
    } else if (auto* linear = m->as<torch::nn::Linear>()) {
      linear->weight.normal_(0.0, 0.01).clamp_(-2.0, 2.0);
    } else if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    }
  }
}

torch::Tensor GoogLeNetImpl::forward(const torch::Tensor& x) {
  aux_logits_.clear();
  auto y = MaxPoolCeil(conv1_->forward(x), 3, 2);
  y = MaxPoolCeil(conv3_->forward(conv2_->forward(y)), 3, 2);
  y = MaxPoolCeil(inception3b_->forward(inception3a_->forward(y)), 3, 2);
  y = inception4a_->forward(y);
  if (is_training()) aux_logits_.push_back(aux1_->forward(y));
  y = inception4d_->forward(inception4c_->forward(inception4b_->forward(y)));
  if (is_training()) aux_logits_.push_back(aux2_->forward(y));
  y = MaxPoolCeil(inception4e_->forward(y), 2, 2);
  y = inception5b_->forward(inception5a_->forward(y));
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  return fc_->forward(dropout_->forward(y));
}

}  // namespace moe4::worker::lemur
