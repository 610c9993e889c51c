#include "worker/models/lemur/mobilenet_v3.h"

#include <algorithm>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

constexpr double kMobilenetV3Dropout = 0.2;        // LEMUR's prm['dropout'] in the measured configuration
constexpr double kMobilenetV3NormEps = 1e-3;       // prm['norm_eps'] for MobileNetV3
constexpr double kNormMomentum = 0.01;  // prm['norm_momentum'] (PyTorch's convention, as LibTorch's)
constexpr int kDivisor = 8;             // torchvision's adjust_channels rounds to multiples of 8

// torchvision's _make_divisible: nearest multiple of `divisor`, at least
// `divisor`, and never more than 10% below v.
int MakeDivisible(double v, int divisor) {
  int rounded = std::max(divisor, static_cast<int>(v + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

torch::nn::Functional Activation(bool hardswish) {
  if (hardswish) return torch::nn::Functional([](torch::Tensor t) { return torch::hardswish(t); });
  return torch::nn::Functional([](torch::Tensor t) { return torch::relu(t); });
}

// torchvision's Conv2dNormActivation: padding (k-1)/2 x dilation, no conv
// bias (a BN follows); `activation` false for the linear projection.
void AppendConvBn(torch::nn::Sequential& seq, int in, int out, int kernel, int stride, int dilation, int groups,
                  bool activation, bool hardswish) {
  seq->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                       .stride(stride)
                                       .padding((kernel - 1) / 2 * dilation)
                                       .dilation(dilation)
                                       .groups(groups)
                                       .bias(false)));
  seq->push_back(torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).eps(kMobilenetV3NormEps).momentum(kNormMomentum)));
  if (activation) seq->push_back(Activation(hardswish));
}

// The reference table: LEMUR's mobilenet_v3_small rows with reduce_divider 2
// and dilation 2 already applied to the last three.
struct Row {
  int in, kernel, expanded, out;
  bool se, hardswish;
  int stride, dilation;
};
constexpr Row kRows[] = {
    {16, 3, 16, 16, true, false, 2, 1}, {16, 3, 72, 24, false, false, 2, 1}, {24, 3, 88, 24, false, false, 1, 1},
    {24, 5, 96, 40, true, true, 2, 1},  {40, 5, 240, 40, true, true, 1, 1},  {40, 5, 240, 40, true, true, 1, 1},
    {40, 5, 120, 48, true, true, 1, 1}, {48, 5, 144, 48, true, true, 1, 1},  {48, 5, 288, 48, true, true, 2, 2},
    {48, 5, 288, 48, true, true, 1, 2}, {48, 5, 288, 48, true, true, 1, 2},
};
constexpr int kLastChannel = 512;   // adjust_channels(1024 // reduce_divider)
constexpr int kLastConvFactor = 6;  // last conv: 6 x the last block's width

}  // namespace

MobileNetV3SqueezeExcitationImpl::MobileNetV3SqueezeExcitationImpl(int channels, int squeeze) {
  fc1_ = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, squeeze, 1)));
  fc2_ = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze, channels, 1)));
}

torch::Tensor MobileNetV3SqueezeExcitationImpl::forward(const torch::Tensor& x) {
  auto scale = torch::adaptive_avg_pool2d(x, {1, 1});
  scale = torch::hardsigmoid(fc2_->forward(torch::relu(fc1_->forward(scale))));
  return scale * x;
}

MobileNetV3BlockImpl::MobileNetV3BlockImpl(const MobileNetV3BlockConfig& c) : residual_(c.residual) {
  block_ = register_module("block", torch::nn::Sequential());
  if (c.expand) AppendConvBn(block_, c.in, c.expanded, 1, 1, 1, 1, true, c.hardswish);
  // torchvision: a dilated depthwise conv runs at stride 1.
  const int stride = c.dilation > 1 ? 1 : c.stride;
  AppendConvBn(block_, c.expanded, c.expanded, c.kernel, stride, c.dilation, c.expanded, true, c.hardswish);
  if (c.se) block_->push_back(MobileNetV3SqueezeExcitation(c.expanded, MakeDivisible(c.expanded / 4, kDivisor)));
  AppendConvBn(block_, c.expanded, c.out, 1, 1, 1, 1, false, false);
}

torch::Tensor MobileNetV3BlockImpl::forward(const torch::Tensor& x) {
  auto y = block_->forward(x);
  return residual_ ? y + x : y;
}

MobileNetV3Impl::MobileNetV3Impl(const ExpertOptions& options) {
  const double w = options.width;
  const auto scaled = [w](int channels) { return Scaled(channels, w, kDivisor); };
  features_ = register_module("features", torch::nn::Sequential());
  AppendConvBn(features_, options.in_channels, scaled(kRows[0].in), 3, 2, 1, 1, true, true);
  for (const Row& r : kRows) {
    features_->push_back(MobileNetV3Block(MobileNetV3BlockConfig{
        scaled(r.in), r.kernel, scaled(r.expanded), scaled(r.out), r.se, r.hardswish, r.stride, r.dilation,
        /*expand=*/r.expanded != r.in, /*residual=*/r.stride == 1 && r.in == r.out}));
  }
  const int last_in = scaled(std::end(kRows)[-1].out);
  const int last_out = kLastConvFactor * last_in;
  AppendConvBn(features_, last_in, last_out, 1, 1, 1, 1, true, true);
  const int hidden = scaled(kLastChannel);
  classifier_ = register_module("classifier", torch::nn::Sequential(torch::nn::Linear(last_out, hidden),
                                                                    Activation(true), torch::nn::Dropout(kMobilenetV3Dropout),
                                                                    torch::nn::Linear(hidden, options.num_classes)));

  // LEMUR's explicit init.
  torch::NoGradGuard no_grad;
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut);
      if (conv->bias.defined()) torch::nn::init::zeros_(conv->bias);
    } else if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    } else if (auto* linear = m->as<torch::nn::LinearImpl>()) {
      torch::nn::init::normal_(linear->weight, 0.0, 0.01);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor MobileNetV3Impl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(y);
}

}  // namespace moe4::worker::lemur
