// LEMUR's MobileNetV3 (ab/nn/nn/MobileNetV3.py; the index holds it at
// waleedkhalid1/nn-dataset-1 4ac53ab5, the pre-`device` signature):
// torchvision's MobileNetV3-Small at width 1.0 with the "reduced tail"
// (reduce_divider 2) AND dilation 2 hard-wired into the last three blocks.
// Stem 3x3 s2 conv-BN-Hardswish to 16; eleven inverted residuals
// (in, kernel, expanded, out, SE, activation, stride, dilation):
//   16 3 16 16 SE RE 2 1 | 16 3 72 24 - RE 2 1 | 24 3 88 24 - RE 1 1 |
//   24 5 96 40 SE HS 2 1 | 40 5 240 40 SE HS 1 1 (x2) | 40 5 120 48 SE HS 1 1 |
//   48 5 144 48 SE HS 1 1 | 48 5 288 48 SE HS 2 2 | 48 5 288 48 SE HS 1 2 (x2);
// each: 1x1 expansion conv-BN-act (only where expanded != in), depthwise
// conv-BN-act (padding (k-1)/2 x dilation), squeeze-excitation (1x1 convs
// with bias to make_divisible(expanded/4, 8), ReLU, back, Hardsigmoid), 1x1
// projection conv-BN; identity added when stride 1 and in == out. Then 1x1
// conv-BN-Hardswish to 288 (6 x 48); global average pool; linear 288 -> 512,
// Hardswish, dropout (prm['dropout'], 0.2), linear 512 -> classes.
// Quirks kept: a dilated block runs at stride 1 (torchvision's rule), so the
// ninth block, configured at stride 2, does not downsample (output stride 16,
// not 32), yet still gets no residual (its configured stride is 2). BN eps is
// prm['norm_eps'] (1e-3) and momentum prm['norm_momentum'] (0.01). The
// file's init is ported: convs Kaiming-normal (fan_out) with zero bias, BN
// 1/0, linears N(0, 0.01) with zero bias. Padded throughout, so it takes any
// input the registry accepts.
// Training in LEMUR: SGD (lr, momentum), cross-entropy, gradient norm clipped
// to 3. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_MOBILENET_V3_H_
#define MOE4_WORKER_MODELS_LEMUR_MOBILENET_V3_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// torchvision's SqueezeExcitation as MobileNetV3 uses it: global average
// pool, 1x1 conv (bias), ReLU, 1x1 conv (bias), Hardsigmoid; scales the input.
class MobileNetV3SqueezeExcitationImpl : public torch::nn::Module {
 public:
  MobileNetV3SqueezeExcitationImpl(int channels, int squeeze);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d fc1_{nullptr};
  torch::nn::Conv2d fc2_{nullptr};
};
TORCH_MODULE(MobileNetV3SqueezeExcitation);

// One row of the inverted-residual table (channel counts already scaled).
struct MobileNetV3BlockConfig {
  int in;
  int kernel;
  int expanded;
  int out;
  bool se;
  bool hardswish;  // "HS"; otherwise ReLU ("RE")
  int stride;
  int dilation;
  bool expand;    // a 1x1 expansion conv (reference expanded != in)
  bool residual;  // reference stride 1 and in == out
};

// torchvision's MobileNetV3 InvertedResidual.
class MobileNetV3BlockImpl : public torch::nn::Module {
 public:
  explicit MobileNetV3BlockImpl(const MobileNetV3BlockConfig& config);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential block_{nullptr};
  bool residual_;
};
TORCH_MODULE(MobileNetV3Block);

class MobileNetV3Impl : public torch::nn::Module {
 public:
  explicit MobileNetV3Impl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(MobileNetV3);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_MOBILENET_V3_H_
