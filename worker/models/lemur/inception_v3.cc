#include "worker/models/lemur/inception_v3.h"

#include <cmath>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

constexpr double kBatchNormEps = 1e-3;
constexpr double kInceptionV3Dropout = 0.2;     // prm['dropout']
constexpr double kInitStd = 0.1;     // LEMUR's trunc_normal_(std=0.1, a=-2, b=2)
constexpr double kInitLow = -2.0;    // absolute bounds, i.e. +-20 standard deviations
constexpr double kInitHigh = 2.0;

// torch.nn.init.trunc_normal_: a normal(0, std) restricted to [low, high] by
// inverse-CDF sampling.
void InceptionV3TruncatedNormal(torch::Tensor& t, double std, double low, double high) {
  auto cdf = [](double v) { return (1.0 + std::erf(v / std::sqrt(2.0))) / 2.0; };
  const double l = cdf(low / std);
  const double u = cdf(high / std);
  t.uniform_(2 * l - 1, 2 * u - 1).erfinv_().mul_(std * std::sqrt(2.0)).clamp_(low, high);
}

}  // namespace

InceptionV3ConvImpl::InceptionV3ConvImpl(int in, int out, torch::ExpandingArray<2> kernel, int stride,
                                         torch::ExpandingArray<2> padding) {
  conv_ = register_module(
      "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false)));
  bn_ = register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).eps(kBatchNormEps)));
}

torch::Tensor InceptionV3ConvImpl::forward(const torch::Tensor& x) {
  return torch::relu(bn_->forward(conv_->forward(x)));
}

InceptionV3AImpl::InceptionV3AImpl(int in, int pool_features, double width) {
  const int c64 = Scaled(64, width), c48 = Scaled(48, width), c96 = Scaled(96, width);
  const int pool = Scaled(pool_features, width);
  branch1x1_ = register_module("branch1x1", InceptionV3Conv(in, c64, 1));
  branch5x5_1_ = register_module("branch5x5_1", InceptionV3Conv(in, c48, 1));
  branch5x5_2_ = register_module("branch5x5_2", InceptionV3Conv(c48, c64, 5, 1, 2));
  branch3x3dbl_1_ = register_module("branch3x3dbl_1", InceptionV3Conv(in, c64, 1));
  branch3x3dbl_2_ = register_module("branch3x3dbl_2", InceptionV3Conv(c64, c96, 3, 1, 1));
  branch3x3dbl_3_ = register_module("branch3x3dbl_3", InceptionV3Conv(c96, c96, 3, 1, 1));
  branch_pool_ = register_module("branch_pool", InceptionV3Conv(in, pool, 1));
  out_channels_ = c64 + c64 + c96 + pool;
}

torch::Tensor InceptionV3AImpl::forward(const torch::Tensor& x) {
  auto b1 = branch1x1_->forward(x);
  auto b5 = branch5x5_2_->forward(branch5x5_1_->forward(x));
  auto b3 = branch3x3dbl_3_->forward(branch3x3dbl_2_->forward(branch3x3dbl_1_->forward(x)));
  auto bp = branch_pool_->forward(torch::avg_pool2d(x, 3, 1, 1));
  return torch::cat({b1, b5, b3, bp}, 1);
}

InceptionV3BImpl::InceptionV3BImpl(int in, double width) {
  const int c384 = Scaled(384, width), c64 = Scaled(64, width), c96 = Scaled(96, width);
  branch3x3_ = register_module("branch3x3", InceptionV3Conv(in, c384, 3, 2));
  branch3x3dbl_1_ = register_module("branch3x3dbl_1", InceptionV3Conv(in, c64, 1));
  branch3x3dbl_2_ = register_module("branch3x3dbl_2", InceptionV3Conv(c64, c96, 3, 1, 1));
  branch3x3dbl_3_ = register_module("branch3x3dbl_3", InceptionV3Conv(c96, c96, 3, 2));
  out_channels_ = c384 + c96 + in;
}

torch::Tensor InceptionV3BImpl::forward(const torch::Tensor& x) {
  auto b3 = branch3x3_->forward(x);
  auto bd = branch3x3dbl_3_->forward(branch3x3dbl_2_->forward(branch3x3dbl_1_->forward(x)));
  auto bp = torch::max_pool2d(x, 3, 2);
  return torch::cat({b3, bd, bp}, 1);
}

InceptionV3CImpl::InceptionV3CImpl(int in, int channels_7x7, double width) {
  const int c192 = Scaled(192, width), c7 = Scaled(channels_7x7, width);
  const torch::ExpandingArray<2> k1x7({1, 7}), k7x1({7, 1}), p1x7({0, 3}), p7x1({3, 0});
  branch1x1_ = register_module("branch1x1", InceptionV3Conv(in, c192, 1));
  branch7x7_1_ = register_module("branch7x7_1", InceptionV3Conv(in, c7, 1));
  branch7x7_2_ = register_module("branch7x7_2", InceptionV3Conv(c7, c7, k1x7, 1, p1x7));
  branch7x7_3_ = register_module("branch7x7_3", InceptionV3Conv(c7, c192, k7x1, 1, p7x1));
  branch7x7dbl_1_ = register_module("branch7x7dbl_1", InceptionV3Conv(in, c7, 1));
  branch7x7dbl_2_ = register_module("branch7x7dbl_2", InceptionV3Conv(c7, c7, k7x1, 1, p7x1));
  branch7x7dbl_3_ = register_module("branch7x7dbl_3", InceptionV3Conv(c7, c7, k1x7, 1, p1x7));
  branch7x7dbl_4_ = register_module("branch7x7dbl_4", InceptionV3Conv(c7, c7, k7x1, 1, p7x1));
  branch7x7dbl_5_ = register_module("branch7x7dbl_5", InceptionV3Conv(c7, c192, k1x7, 1, p1x7));
  branch_pool_ = register_module("branch_pool", InceptionV3Conv(in, c192, 1));
  out_channels_ = 4 * c192;
}

torch::Tensor InceptionV3CImpl::forward(const torch::Tensor& x) {
  auto b1 = branch1x1_->forward(x);
  auto b7 = branch7x7_3_->forward(branch7x7_2_->forward(branch7x7_1_->forward(x)));
  auto bd = branch7x7dbl_1_->forward(x);
  bd = branch7x7dbl_3_->forward(branch7x7dbl_2_->forward(bd));
  bd = branch7x7dbl_5_->forward(branch7x7dbl_4_->forward(bd));
  auto bp = branch_pool_->forward(torch::avg_pool2d(x, 3, 1, 1));
  return torch::cat({b1, b7, bd, bp}, 1);
}

InceptionV3DImpl::InceptionV3DImpl(int in, double width) {
  const int c192 = Scaled(192, width), c320 = Scaled(320, width);
  const torch::ExpandingArray<2> k1x7({1, 7}), k7x1({7, 1}), p1x7({0, 3}), p7x1({3, 0});
  branch3x3_1_ = register_module("branch3x3_1", InceptionV3Conv(in, c192, 1));
  branch3x3_2_ = register_module("branch3x3_2", InceptionV3Conv(c192, c320, 3, 2));
  branch7x7x3_1_ = register_module("branch7x7x3_1", InceptionV3Conv(in, c192, 1));
  branch7x7x3_2_ = register_module("branch7x7x3_2", InceptionV3Conv(c192, c192, k1x7, 1, p1x7));
  branch7x7x3_3_ = register_module("branch7x7x3_3", InceptionV3Conv(c192, c192, k7x1, 1, p7x1));
  branch7x7x3_4_ = register_module("branch7x7x3_4", InceptionV3Conv(c192, c192, 3, 2));
  out_channels_ = c320 + c192 + in;
}

torch::Tensor InceptionV3DImpl::forward(const torch::Tensor& x) {
  auto b3 = branch3x3_2_->forward(branch3x3_1_->forward(x));
  auto b7 = branch7x7x3_2_->forward(branch7x7x3_1_->forward(x));
  b7 = branch7x7x3_4_->forward(branch7x7x3_3_->forward(b7));
  auto bp = torch::max_pool2d(x, 3, 2);
  return torch::cat({b3, b7, bp}, 1);
}

InceptionV3EImpl::InceptionV3EImpl(int in, double width) {
  const int c320 = Scaled(320, width), c384 = Scaled(384, width), c448 = Scaled(448, width);
  const int c192 = Scaled(192, width);
  const torch::ExpandingArray<2> k1x3({1, 3}), k3x1({3, 1}), p1x3({0, 1}), p3x1({1, 0});
  branch1x1_ = register_module("branch1x1", InceptionV3Conv(in, c320, 1));
  branch3x3_1_ = register_module("branch3x3_1", InceptionV3Conv(in, c384, 1));
  branch3x3_2a_ = register_module("branch3x3_2a", InceptionV3Conv(c384, c384, k1x3, 1, p1x3));
  branch3x3_2b_ = register_module("branch3x3_2b", InceptionV3Conv(c384, c384, k3x1, 1, p3x1));
  branch3x3dbl_1_ = register_module("branch3x3dbl_1", InceptionV3Conv(in, c448, 1));
  branch3x3dbl_2_ = register_module("branch3x3dbl_2", InceptionV3Conv(c448, c384, 3, 1, 1));
  branch3x3dbl_3a_ = register_module("branch3x3dbl_3a", InceptionV3Conv(c384, c384, k1x3, 1, p1x3));
  branch3x3dbl_3b_ = register_module("branch3x3dbl_3b", InceptionV3Conv(c384, c384, k3x1, 1, p3x1));
  branch_pool_ = register_module("branch_pool", InceptionV3Conv(in, c192, 1));
  out_channels_ = c320 + 2 * c384 + 2 * c384 + c192;
}

torch::Tensor InceptionV3EImpl::forward(const torch::Tensor& x) {
  auto b1 = branch1x1_->forward(x);
  auto b3 = branch3x3_1_->forward(x);
  b3 = torch::cat({branch3x3_2a_->forward(b3), branch3x3_2b_->forward(b3)}, 1);
  auto bd = branch3x3dbl_2_->forward(branch3x3dbl_1_->forward(x));
  bd = torch::cat({branch3x3dbl_3a_->forward(bd), branch3x3dbl_3b_->forward(bd)}, 1);
  auto bp = branch_pool_->forward(torch::avg_pool2d(x, 3, 1, 1));
  return torch::cat({b1, b3, bd, bp}, 1);
}

InceptionV3Impl::InceptionV3Impl(const ExpertOptions& options) {
  const double w = options.width;
  const int c32 = Scaled(32, w), c64 = Scaled(64, w), c80 = Scaled(80, w), c192 = Scaled(192, w);
  conv1a_ = register_module("Conv2d_1a_3x3", InceptionV3Conv(options.in_channels, c32, 3, 2));
  conv2a_ = register_module("Conv2d_2a_3x3", InceptionV3Conv(c32, c32, 3));
  conv2b_ = register_module("Conv2d_2b_3x3", InceptionV3Conv(c32, c64, 3, 1, 1));
  conv3b_ = register_module("Conv2d_3b_1x1", InceptionV3Conv(c64, c80, 1));
  conv4a_ = register_module("Conv2d_4a_3x3", InceptionV3Conv(c80, c192, 3));
  mixed5b_ = register_module("Mixed_5b", InceptionV3A(c192, 32, w));
  mixed5c_ = register_module("Mixed_5c", InceptionV3A(mixed5b_->out_channels(), 64, w));
  mixed5d_ = register_module("Mixed_5d", InceptionV3A(mixed5c_->out_channels(), 64, w));
  mixed6a_ = register_module("Mixed_6a", InceptionV3B(mixed5d_->out_channels(), w));
  mixed6b_ = register_module("Mixed_6b", InceptionV3C(mixed6a_->out_channels(), 128, w));
  mixed6c_ = register_module("Mixed_6c", InceptionV3C(mixed6b_->out_channels(), 160, w));
  mixed6d_ = register_module("Mixed_6d", InceptionV3C(mixed6c_->out_channels(), 160, w));
  mixed6e_ = register_module("Mixed_6e", InceptionV3C(mixed6d_->out_channels(), 192, w));
  mixed7a_ = register_module("Mixed_7a", InceptionV3D(mixed6e_->out_channels(), w));
  mixed7b_ = register_module("Mixed_7b", InceptionV3E(mixed7a_->out_channels(), w));
  mixed7c_ = register_module("Mixed_7c", InceptionV3E(mixed7b_->out_channels(), w));
  dropout_ = register_module("dropout", torch::nn::Dropout(kInceptionV3Dropout));
  fc_ = register_module("fc", torch::nn::Linear(mixed7c_->out_channels(), options.num_classes));

  // LEMUR's explicit init (BatchNorm's ones/zeros are LibTorch's defaults;
  // the linear bias keeps its default).
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      InceptionV3TruncatedNormal(conv->weight, kInitStd, kInitLow, kInitHigh);
    } else if (auto* linear = m->as<torch::nn::Linear>()) {
      InceptionV3TruncatedNormal(linear->weight, kInitStd, kInitLow, kInitHigh);
    }
  }
}

torch::Tensor InceptionV3Impl::forward(const torch::Tensor& x) {
  auto y = conv2b_->forward(conv2a_->forward(conv1a_->forward(x)));
  y = torch::max_pool2d(y, 3, 2);
  y = conv4a_->forward(conv3b_->forward(y));
  y = torch::max_pool2d(y, 3, 2);
  y = mixed5d_->forward(mixed5c_->forward(mixed5b_->forward(y)));
  y = mixed6a_->forward(y);
  y = mixed6e_->forward(mixed6d_->forward(mixed6c_->forward(mixed6b_->forward(y))));
  y = mixed7c_->forward(mixed7b_->forward(mixed7a_->forward(y)));
  y = torch::adaptive_avg_pool2d(y, {1, 1});
  return fc_->forward(dropout_->forward(y).flatten(1));
}

}  // namespace moe4::worker::lemur
