// LEMUR's DenseNet (ab/nn/nn/DenseNet.py; read at yLukhi/nn-dataset
// 4fc7d48842b84a4d1284455f2e0924e5d81cf7c0, the sairevanth0007 fork at
// 6a267aec does not hold it): torchvision's DenseNet-121 body, i.e. a 7x7/2
// stem conv (no bias) + BN + ReLU + 3x3/2 max-pool, dense blocks of 6/12/24/16
// layers (growth 32; each layer BN-ReLU-1x1 conv to factor x growth, BN-ReLU-3x3
// conv to growth, dropout prm['dropout'] = 0.2 on its new features), transitions
// (BN-ReLU-1x1 conv halving the channels, 2x2/2 average pool) and a final BN;
// then ReLU, global average pool and one linear layer.
//
// Quirks: LEMUR sets the bottleneck factor to in_shape[0], which is the batch
// size (1 when it counts parameters), a plain bug; we use 4, the DenseNet
// paper's and the published hetero-MoE's value (6,964,106 parameters at
// 3x32x32, 10 classes). No small-input adaptation: the map must survive the
// stem's two stride-2 steps and the three transitions' pools, so inputs need
// a side of at least 29 pixels (LEMUR's forward fails at 28x28 the same way).
// Explicit init ported: Kaiming-normal conv weights, zero linear bias.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_DENSENET_H_
#define MOE4_WORKER_MODELS_LEMUR_DENSENET_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// One dense layer: maps the concatenation of everything before it to
// `growth` new channels.
class DenseNetLayerImpl : public torch::nn::Module {
 public:
  DenseNetLayerImpl(int in_channels, int growth, int bottleneck_factor, double drop_rate);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::BatchNorm2d norm1_{nullptr};
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d norm2_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  double drop_rate_;
};
TORCH_MODULE(DenseNetLayer);

// `layers` dense layers; returns the input concatenated with every layer's
// output (in_channels + layers x growth channels).
class DenseNetBlockImpl : public torch::nn::Module {
 public:
  DenseNetBlockImpl(int layers, int in_channels, int growth, int bottleneck_factor, double drop_rate);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::vector<DenseNetLayer> layers_;
};
TORCH_MODULE(DenseNetBlock);

// BN-ReLU-1x1 conv-2x2/2 average pool between dense blocks.
class DenseNetTransitionImpl : public torch::nn::Module {
 public:
  DenseNetTransitionImpl(int in_channels, int out_channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::BatchNorm2d norm_{nullptr};
  torch::nn::Conv2d conv_{nullptr};
};
TORCH_MODULE(DenseNetTransition);

class DenseNetImpl : public torch::nn::Module {
 public:
  explicit DenseNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(DenseNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_DENSENET_H_
