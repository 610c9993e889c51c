#include "worker/models/lemur/fractalnet.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

constexpr int kColumns = 3;
constexpr int kUnitChannels[] = {64, 128, 256, 512, 512};
constexpr double kFractalnetDropout = 0.2;  // prm['dropout']; unit i uses min(0.5, 0.2 + 0.1 i)

}  // namespace

FractalNetConvImpl::FractalNetConvImpl(int in, int out, double dropout) : dropout_(dropout) {
  conv_ = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
  bn_ = register_module("bn", torch::nn::BatchNorm2d(out));
}

torch::Tensor FractalNetConvImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(bn_->forward(conv_->forward(x)));
  if (dropout_ > 0) {
    y = torch::nn::functional::dropout2d(
        y, torch::nn::functional::Dropout2dFuncOptions().p(dropout_).training(is_training()));
  }
  return y;
}

FractalNetBlockImpl::FractalNetBlockImpl(int in, int out, int columns, double dropout) : columns_(columns) {
  const int levels = 1 << (columns - 1);
  for (int i = 0; i < levels; ++i) {
    std::vector<FractalNetConv> level;
    for (int j = 0; j < columns; ++j) {
      const int period = 1 << j;
      if ((i + 1) % period != 0) continue;
      // A column's first conv (level 2^j - 1) reads the block's input.
      const int conv_in = (i + 1 == period) ? in : out;
      level.push_back(register_module("block" + std::to_string(i + 1) + "_subblock" + std::to_string(j + 1),
                                      FractalNetConv(conv_in, out, dropout)));
    }
    levels_.push_back(std::move(level));
  }
}

torch::Tensor FractalNetBlockImpl::forward(const torch::Tensor& x) {
  // outs[j]: the latest tensor in column j; all start from the input.
  std::vector<torch::Tensor> outs(columns_, x);
  for (auto& level : levels_) {
    std::vector<torch::Tensor> results;
    results.reserve(level.size());
    // The columns that run at a level are always 0..n-1.
    for (size_t j = 0; j < level.size(); ++j) results.push_back(level[j]->forward(outs[j]));
    const auto joined = torch::stack(results).mean(0);
    for (size_t j = 0; j < level.size(); ++j) outs[j] = joined;
  }
  return outs[0];
}

FractalNetImpl::FractalNetImpl(const ExpertOptions& options) {
  // LEMUR sizes its linear layer with a trial forward in __init__; follow the
  // side through the five 2x2/2 max-pools (the 3x3 convs keep it) and fail
  // where that trial forward fails.
  int side = options.image_size;
  for (int unit = 0; unit < static_cast<int>(std::size(kUnitChannels)); ++unit) {
    if (side < 2) {
      throw std::invalid_argument(
          "lemur FractalNet: a " + std::to_string(options.image_size) + "x" + std::to_string(options.image_size) +
          " input is down to " + std::to_string(side) + "x" + std::to_string(side) + " before the 2x2 max-pool of unit " +
          std::to_string(unit + 1) +
          " of 5; LEMUR's FractalNet sizes its linear layer by a trial forward in __init__ and cannot be built "
          "below 32x32");
    }
    side /= 2;
  }

  int channels = options.in_channels;
  for (int unit = 0; unit < static_cast<int>(std::size(kUnitChannels)); ++unit) {
    const int out = Scaled(kUnitChannels[unit], options.width);
    const double dropout = std::min(0.5, kFractalnetDropout + unit * 0.1);
    blocks_.push_back(
        register_module("unit" + std::to_string(unit + 1), FractalNetBlock(channels, out, kColumns, dropout)));
    channels = out;
  }
  output_ = register_module("output", torch::nn::Linear(channels * side * side, options.num_classes));

  // LEMUR's explicit init: Kaiming-uniform conv weights (the convs have no bias).
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<torch::nn::Conv2d>()) torch::nn::init::kaiming_uniform_(conv->weight);
  }
}

torch::Tensor FractalNetImpl::forward(const torch::Tensor& x) {
  auto y = x.to(torch::kFloat32);  // LEMUR's forward casts its input
  for (auto& block : blocks_) y = torch::max_pool2d(block->forward(y), 2, 2);
  return output_->forward(y.flatten(1));
}

}  // namespace moe4::worker::lemur
