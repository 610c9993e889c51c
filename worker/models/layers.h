// Building blocks shared by the expert families: channel scaling, the
// small-input downsampling plan, conv-BN-activation, squeeze-excitation and the
// common weight initialisation. Modules are not thread-safe (LibTorch modules
// never are); the free functions are pure.
#ifndef MOE4_WORKER_MODELS_LAYERS_H_
#define MOE4_WORKER_MODELS_LAYERS_H_

#include <torch/torch.h>

namespace moe4::worker {

// Scales a reference channel count by `width`, rounding to a multiple of
// `divisor` (never below `minimum`, never more than 10 % below the scaled
// value, the MobileNet rule) so grouped/split convolutions stay valid.
int ScaleChannels(int reference, double width, int divisor = 8, int minimum = 8);

// Decides which of a family's reference stride-2 downsampling events to keep
// for a given input size. ImageNet designs halve the image about five times;
// on 28x28 that would leave less than 1x1. The plan keeps at most
// floor(log2(image_size / 2)) events (so the last map is at least 2x2) and
// drops the *earliest* ones, the way CIFAR variants replace the stem.
// Not thread-safe: one plan is consumed while one model is built.
class DownsamplePlan {
 public:
  DownsamplePlan(int image_size, int reference_events);

  // Consumes the next reference event; true if it should downsample (stride 2).
  bool Next();
  // Stride for the next event: 2 if kept, else 1.
  int NextStride() { return Next() ? 2 : 1; }
  // Current spatial side after the events consumed so far.
  int size() const { return size_; }

 private:
  int size_;
  int to_skip_;
};

enum class Activation { kNone, kReLU, kReLU6, kHardSwish, kLeakyReLU };

torch::Tensor Activate(const torch::Tensor& x, Activation act);

// Conv2d (no bias) -> BatchNorm2d -> activation, "same" padding.
class ConvBnActImpl : public torch::nn::Module {
 public:
  ConvBnActImpl(int in, int out, int kernel, int stride = 1, int groups = 1, Activation act = Activation::kReLU);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
  Activation act_;
};
TORCH_MODULE(ConvBnAct);

// Squeeze-and-excitation: GAP -> 1x1 reduce -> ReLU -> 1x1 expand -> gate.
class SqueezeExciteImpl : public torch::nn::Module {
 public:
  SqueezeExciteImpl(int channels, int squeezed, bool hard_sigmoid);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d reduce_{nullptr};
  torch::nn::Conv2d expand_{nullptr};
  bool hard_sigmoid_;
};
TORCH_MODULE(SqueezeExcite);

// One initialisation loop over modules(): Kaiming-normal (fan-out) convs,
// BN weight 1 / bias 0. Linear layers keep LibTorch's default (Kaiming-uniform),
// which trains the deep fully-connected heads (AlexNet) better than N(0, 0.01).
void InitWeights(torch::nn::Module& module);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_LAYERS_H_
