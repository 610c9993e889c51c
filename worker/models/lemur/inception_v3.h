// LEMUR's InceptionV3-1 (ab/nn/nn/InceptionV3-1.py; the sairevanth0007 fork
// at 6a267aec is not in the index; read at waleedkhalid1/nn-dataset-1
// 4ac53ab56482bf45ba6859ec5cb3c2c5285f2e60, whose layers LEMUR's measured
// counts confirm): torchvision's Inception v3 without its auxiliary head. Stem
// 3x3/2 (32), 3x3 (32), 3x3 pad 1 (64), 3x3/2 max-pool, 1x1 (80), 3x3 (192),
// 3x3/2 max-pool; Mixed_5b-d (InceptionA, pool branches 32/64/64), Mixed_6a
// (InceptionB), Mixed_6b-e (InceptionC, 7x7 widths 128/160/160/192), Mixed_7a
// (InceptionD), Mixed_7b-c (InceptionE); global average pool, dropout
// prm['dropout'] = 0.2, linear 2048 -> classes. Every conv is conv (no bias)
// -> BN (eps 1e-3) -> ReLU.
//
// Quirks: LEMUR hard-codes aux_logits = False, so the InceptionAux head is
// never built (the 21,806,058 parameters at 3x32x32 exclude it) and training
// uses only the main logits: no AuxiliaryHeadsSource. transform_input is off.
// No small-input adaptation: the unpadded stem and the stride-2 reductions of
// Mixed_6a and Mixed_7a need a side of at least 75 pixels (LEMUR's forward
// fails at 32x32 and 28x28). Explicit init ported: conv and linear weights
// from a normal(0, 0.1) truncated to [-2, 2].
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_INCEPTION_V3_H_
#define MOE4_WORKER_MODELS_LEMUR_INCEPTION_V3_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// Inception's BasicConv2d: conv (no bias) -> BatchNorm(eps 1e-3) -> ReLU.
class InceptionV3ConvImpl : public torch::nn::Module {
 public:
  InceptionV3ConvImpl(int in, int out, torch::ExpandingArray<2> kernel, int stride = 1,
                      torch::ExpandingArray<2> padding = 0);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(InceptionV3Conv);

// 35x35-grid module: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avg-pool-1x1.
class InceptionV3AImpl : public torch::nn::Module {
 public:
  InceptionV3AImpl(int in, int pool_features, double width);
  torch::Tensor forward(const torch::Tensor& x);
  int out_channels() const { return out_channels_; }

 private:
  InceptionV3Conv branch1x1_{nullptr}, branch5x5_1_{nullptr}, branch5x5_2_{nullptr};
  InceptionV3Conv branch3x3dbl_1_{nullptr}, branch3x3dbl_2_{nullptr}, branch3x3dbl_3_{nullptr};
  InceptionV3Conv branch_pool_{nullptr};
  int out_channels_;
};
TORCH_MODULE(InceptionV3A);

// Grid reduction 35 -> 17: 3x3/2 | 1x1-3x3-3x3/2 | 3x3/2 max-pool.
class InceptionV3BImpl : public torch::nn::Module {
 public:
  InceptionV3BImpl(int in, double width);
  torch::Tensor forward(const torch::Tensor& x);
  int out_channels() const { return out_channels_; }

 private:
  InceptionV3Conv branch3x3_{nullptr};
  InceptionV3Conv branch3x3dbl_1_{nullptr}, branch3x3dbl_2_{nullptr}, branch3x3dbl_3_{nullptr};
  int out_channels_;
};
TORCH_MODULE(InceptionV3B);

// 17x17-grid module with factorised 7x7 (1x7 / 7x1) convs of width c7.
class InceptionV3CImpl : public torch::nn::Module {
 public:
  InceptionV3CImpl(int in, int channels_7x7, double width);
  torch::Tensor forward(const torch::Tensor& x);
  int out_channels() const { return out_channels_; }

 private:
  InceptionV3Conv branch1x1_{nullptr};
  InceptionV3Conv branch7x7_1_{nullptr}, branch7x7_2_{nullptr}, branch7x7_3_{nullptr};
  InceptionV3Conv branch7x7dbl_1_{nullptr}, branch7x7dbl_2_{nullptr}, branch7x7dbl_3_{nullptr};
  InceptionV3Conv branch7x7dbl_4_{nullptr}, branch7x7dbl_5_{nullptr};
  InceptionV3Conv branch_pool_{nullptr};
  int out_channels_;
};
TORCH_MODULE(InceptionV3C);

// Grid reduction 17 -> 8: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | 3x3/2 max-pool.
class InceptionV3DImpl : public torch::nn::Module {
 public:
  InceptionV3DImpl(int in, double width);
  torch::Tensor forward(const torch::Tensor& x);
  int out_channels() const { return out_channels_; }

 private:
  InceptionV3Conv branch3x3_1_{nullptr}, branch3x3_2_{nullptr};
  InceptionV3Conv branch7x7x3_1_{nullptr}, branch7x7x3_2_{nullptr}, branch7x7x3_3_{nullptr};
  InceptionV3Conv branch7x7x3_4_{nullptr};
  int out_channels_;
};
TORCH_MODULE(InceptionV3D);

// 8x8-grid module with split 1x3 / 3x1 outputs.
class InceptionV3EImpl : public torch::nn::Module {
 public:
  InceptionV3EImpl(int in, double width);
  torch::Tensor forward(const torch::Tensor& x);
  int out_channels() const { return out_channels_; }

 private:
  InceptionV3Conv branch1x1_{nullptr};
  InceptionV3Conv branch3x3_1_{nullptr}, branch3x3_2a_{nullptr}, branch3x3_2b_{nullptr};
  InceptionV3Conv branch3x3dbl_1_{nullptr}, branch3x3dbl_2_{nullptr};
  InceptionV3Conv branch3x3dbl_3a_{nullptr}, branch3x3dbl_3b_{nullptr};
  InceptionV3Conv branch_pool_{nullptr};
  int out_channels_;
};
TORCH_MODULE(InceptionV3E);

class InceptionV3Impl : public torch::nn::Module {
 public:
  explicit InceptionV3Impl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  InceptionV3Conv conv1a_{nullptr}, conv2a_{nullptr}, conv2b_{nullptr}, conv3b_{nullptr}, conv4a_{nullptr};
  InceptionV3A mixed5b_{nullptr}, mixed5c_{nullptr}, mixed5d_{nullptr};
  InceptionV3B mixed6a_{nullptr};
  InceptionV3C mixed6b_{nullptr}, mixed6c_{nullptr}, mixed6d_{nullptr}, mixed6e_{nullptr};
  InceptionV3D mixed7a_{nullptr};
  InceptionV3E mixed7b_{nullptr}, mixed7c_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(InceptionV3);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_INCEPTION_V3_H_
