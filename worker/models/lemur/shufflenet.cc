#include "worker/models/lemur/shufflenet.h"

#include <stdexcept>
#include <string>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {

namespace {

torch::nn::Conv2d Pointwise(int in, int out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).bias(false));
}

torch::nn::Conv2d Depthwise(int channels, int stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(channels, channels, 3).stride(stride).padding(1).groups(channels).bias(false));
}

torch::nn::ReLU ShufflenetRelu() { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); }

// Interleaves the channels of `groups` equal groups.
torch::Tensor ChannelShuffle(const torch::Tensor& x, int64_t groups) {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  return x.view({b, groups, c / groups, h, w}).transpose(1, 2).contiguous().view({b, c, h, w});
}

}  // namespace

ShuffleNetUnitImpl::ShuffleNetUnitImpl(int in, int out, int stride) : stride_(stride) {
  const int branch = out / 2;
  if (stride == 1 && in != 2 * branch) {
    throw std::invalid_argument("lemur ShuffleNet: a stride-1 unit needs in == out (even), got " + std::to_string(in) +
                                " -> " + std::to_string(out));
  }
  if (stride > 1) {
    branch1_ = register_module(
        "branch1", torch::nn::Sequential(Depthwise(in, stride), torch::nn::BatchNorm2d(in), Pointwise(in, branch),
                                         torch::nn::BatchNorm2d(branch), ShufflenetRelu()));
  }
  branch2_ = register_module(
      "branch2", torch::nn::Sequential(Pointwise(stride > 1 ? in : branch, branch), torch::nn::BatchNorm2d(branch),
                                       ShufflenetRelu(), Depthwise(branch, stride), torch::nn::BatchNorm2d(branch),
                                       Pointwise(branch, branch), torch::nn::BatchNorm2d(branch), ShufflenetRelu()));
}

torch::Tensor ShuffleNetUnitImpl::forward(const torch::Tensor& x) {
  torch::Tensor out;
  if (stride_ == 1) {
    const auto halves = x.chunk(2, 1);
    out = torch::cat({halves[0], branch2_->forward(halves[1])}, 1);
  } else {
    out = torch::cat({branch1_->forward(x), branch2_->forward(x)}, 1);
  }
  return ChannelShuffle(out, 2);
}

ShuffleNetImpl::ShuffleNetImpl(const ExpertOptions& options) {
  const double w = options.width;
  constexpr int kRepeats[] = {4, 8, 4};
  constexpr int kStageChannels[] = {116, 232, 464};  // x1.0; even at every width (divisor 2)
  const int stem = Scaled(24, w);
  conv1_ = register_module(
      "conv1",
      torch::nn::Sequential(
          torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels, stem, 3).stride(2).padding(1).bias(false)),
          torch::nn::BatchNorm2d(stem), ShufflenetRelu()));
  maxpool_ = register_module("maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  stages_ = register_module("stages", torch::nn::Sequential());
  int in = stem;
  for (int s = 0; s < 3; ++s) {
    const int out = Scaled(kStageChannels[s], w, 2);
    stages_->push_back(ShuffleNetUnit(in, out, 2));
    for (int i = 1; i < kRepeats[s]; ++i) stages_->push_back(ShuffleNetUnit(out, out, 1));
    in = out;
  }
  const int last = Scaled(1024, w);
  conv5_ = register_module("conv5", torch::nn::Sequential(Pointwise(in, last), torch::nn::BatchNorm2d(last), ShufflenetRelu()));
  fc_ = register_module("fc", torch::nn::Linear(last, options.num_classes));
}

torch::Tensor ShuffleNetImpl::forward(const torch::Tensor& x) {
  auto y = stages_->forward(maxpool_->forward(conv1_->forward(x)));
  y = conv5_->forward(y).mean({2, 3});
  return fc_->forward(y);
}

}  // namespace moe4::worker::lemur
