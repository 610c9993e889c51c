#include "worker/models/lemur/resnet.h"

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

torch::nn::Conv2d Conv3x3(int in, int out, int stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

}  // namespace

ResNetBasicBlockImpl::ResNetBasicBlockImpl(int in, int out, int stride, bool project) {
  conv1_ = register_module("conv1", Conv3x3(in, out, stride));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(out));
  conv2_ = register_module("conv2", Conv3x3(out, out, 1));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(out));
  if (project) {
    downsample_ = register_module(
        "downsample",
        torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                              torch::nn::BatchNorm2d(out)));
  }
}

torch::Tensor ResNetBasicBlockImpl::forward(const torch::Tensor& x) {
  const auto identity = downsample_ ? downsample_->forward(x) : x;
  auto y = torch::relu(bn1_->forward(conv1_->forward(x)));
  y = bn2_->forward(conv2_->forward(y));
  return torch::relu(y + identity);
}

ResNetImpl::ResNetImpl(const ExpertOptions& options) {
  const double w = options.width;
  constexpr int kStem = 64;
  constexpr int kPlanes[] = {64, 128, 256, 512};
  constexpr int kBlocksPerStage = 2;  // ResNet-18: layers = [2, 2, 2, 2]
  conv1_ = register_module(
      "conv1",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(options.in_channels, Scaled(kStem, w), 7).stride(2).padding(3).bias(false)));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(Scaled(kStem, w)));
  maxpool_ = register_module("maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  layers_ = register_module("layers", torch::nn::Sequential());
  int in = kStem;  // reference widths decide the structure, so it is the same at every width
  for (int stage = 0; stage < 4; ++stage) {
    const int planes = kPlanes[stage];
    for (int block = 0; block < kBlocksPerStage; ++block) {
      const int stride = (stage > 0 && block == 0) ? 2 : 1;
      layers_->push_back(ResNetBasicBlock(Scaled(in, w), Scaled(planes, w), stride, stride != 1 || in != planes));
      in = planes;
    }
  }
  fc_ = register_module("fc", torch::nn::Linear(Scaled(in, w), options.num_classes));

  // LEMUR's explicit init (BN weight 1 / bias 0 is LibTorch's default already).
  torch::NoGradGuard no_grad;
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    }
  }
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& x) {
  auto y = maxpool_->forward(torch::relu(bn1_->forward(conv1_->forward(x))));
  y = layers_->forward(y);
  y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  return fc_->forward(y);
}

}  // namespace moe4::worker::lemur
