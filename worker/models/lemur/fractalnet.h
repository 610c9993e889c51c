// LEMUR's FractalNet (ab/nn/nn/FractalNet.py; read at sairevanth0007/nn-dataset
// 5cd4284b6638d6fa2c9da7873a5ce4cb6fa3a7dd, the index's version of that fork):
// five units of (fractal block of 3 columns, 2x2/2 max-pool) with 64, 128,
// 256, 512 and 512 channels, flatten, one linear layer. A 3-column block has
// four levels; column j (conv depth 2^j) contributes a conv at every 2^j-th
// level, and each level joins the columns it ran by their mean, which then
// feeds every column that ran. Each conv is 3x3 (padding 1, no bias) -> BN ->
// ReLU -> channel dropout (Dropout2d) with p = min(0.5, prm['dropout'] + 0.1 x
// unit) = 0.2, 0.3, 0.4, 0.5, 0.5.
//
// Quirks: no drop-path. LEMUR's file sets local/global drop-path rates and draws
// a global column but never uses them; the join is a plain mean. The linear
// layer is sized in __init__ by running a zero input through the five units,
// so it depends on the input size (512 x s x s inputs, s = side halved five
// times with floor), and __init__ fails where a max-pool's input is down to
// one pixel: at 1x28x28 (28 -> 14 -> 7 -> 3 -> 1 -> fails). We throw
// std::invalid_argument there; the smallest side is 32. Explicit init ported:
// Kaiming-uniform conv weights.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_FRACTALNET_H_
#define MOE4_WORKER_MODELS_LEMUR_FRACTALNET_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// 3x3 conv (no bias) -> BN -> ReLU -> Dropout2d(p).
class FractalNetConvImpl : public torch::nn::Module {
 public:
  FractalNetConvImpl(int in, int out, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
  double dropout_;
};
TORCH_MODULE(FractalNetConv);

// A fractal block of `columns` columns, 2^(columns-1) levels, mean joins.
class FractalNetBlockImpl : public torch::nn::Module {
 public:
  FractalNetBlockImpl(int in, int out, int columns, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int columns_;
  // levels_[i][j]: column j's conv at level i (present while (i+1) % 2^j == 0).
  std::vector<std::vector<FractalNetConv>> levels_;
};
TORCH_MODULE(FractalNetBlock);

class FractalNetImpl : public torch::nn::Module {
 public:
  // Throws std::invalid_argument below 32x32 (where LEMUR's __init__ fails).
  explicit FractalNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::vector<FractalNetBlock> blocks_;  // each followed by a 2x2/2 max-pool
  torch::nn::Linear output_{nullptr};
};
TORCH_MODULE(FractalNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_FRACTALNET_H_
