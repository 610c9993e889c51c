#include "worker/models/lemur/unet2d.h"

#include <string>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

constexpr int kBlockChannels[] = {32, 64, 128};
// LEMUR's block type names; only the "Down"/"Up" prefixes matter.
constexpr const char* kDownTypes[] = {"DownBlock2D", "AttnDownBlock2D", "DownBlock2D"};
constexpr const char* kUpTypes[] = {"UpBlock2D", "AttnUpBlock2D", "UpBlock2D"};
constexpr int kOutChannels = 128;
constexpr double kUnet2dDropout = 0.2;  // prm['dropout']

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

torch::nn::Conv2d Conv3x3(int in, int out, int stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

torch::nn::Sequential MakeBlock(int in, int out, const std::string& type) {
  if (StartsWith(type, "Down")) {
    return torch::nn::Sequential(Conv3x3(in, out, 2), torch::nn::ReLU(), Conv3x3(out, out, 1), torch::nn::ReLU());
  }
  if (StartsWith(type, "Up")) {
    return torch::nn::Sequential(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(in, out, 2).stride(2)),
                                 torch::nn::ReLU(), Conv3x3(out, out, 1), torch::nn::ReLU());
  }
  return torch::nn::Sequential(Conv3x3(in, out, 1), torch::nn::ReLU());
}

}  // namespace

UNet2DImpl::UNet2DImpl(const ExpertOptions& options) {
  down_blocks_ = register_module("down_blocks", torch::nn::ModuleList());
  up_blocks_ = register_module("up_blocks", torch::nn::ModuleList());
  int in = options.in_channels;
  for (int i = 0; i < 3; ++i) {
    const int out = Scaled(kBlockChannels[i], options.width);
    down_blocks_->push_back(MakeBlock(in, out, kDownTypes[i]));
    in = out;
  }
  for (int i = 0; i < 3; ++i) {
    const int out = Scaled(kBlockChannels[2 - i], options.width);
    up_blocks_->push_back(MakeBlock(in, out, kUpTypes[i]));
    in = out;
  }
  const int features = Scaled(kOutChannels, options.width);
  final_conv_ = register_module("final_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, features, 1)));
  classifier_ = register_module("classifier", torch::nn::Sequential(torch::nn::Dropout(kUnet2dDropout),
                                                                    torch::nn::Linear(features, options.num_classes)));

  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      torch::nn::init::zeros_(conv->bias);
    } else if (auto* deconv = m->as<torch::nn::ConvTranspose2d>()) {
      torch::nn::init::kaiming_normal_(deconv->weight, 0.0, torch::kFanOut, torch::kReLU);
      torch::nn::init::zeros_(deconv->bias);
    } else if (auto* linear = m->as<torch::nn::Linear>()) {
      torch::nn::init::xavier_uniform_(linear->weight);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor UNet2DImpl::forward(const torch::Tensor& x) {
  auto y = x;
  for (const auto& block : *down_blocks_) y = block->as<torch::nn::Sequential>()->forward(y);
  for (const auto& block : *up_blocks_) y = block->as<torch::nn::Sequential>()->forward(y);
  y = final_conv_->forward(y).to(torch::kFloat32);  // LEMUR casts before pooling
  return classifier_->forward(y.mean({2, 3}));
}

}  // namespace moe4::worker::lemur
