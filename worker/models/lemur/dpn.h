// LEMUR's DPN68, DPN107 and DPN131 (ab/nn/nn/DPN68.py, DPN107.py, DPN131.py).
// The index holds none of the three under those paths; the ports follow
// LEMUR-format copies of each (DPN107: the generated variant
// sairevanth0007/nn-dataset ee41ca9e ab/nn/nn/DPN107-0040c5a8-....py, network
// unchanged; DPN68 and DPN131: copies the index returns without naming their
// repository), whose counts equal LEMUR's measured ones exactly.
// None of them is a dual-path network: a 3x3 p1 stem conv to 32 channels,
// BN, ReLU, three residual blocks of two 3x3 p1 convs (conv-BN-ReLU-conv-BN,
// identity added, ReLU), global average pool, linear 32 -> classes. No
// downsampling anywhere: every block runs at the input's resolution.
// DPN68 and DPN131 are the same network (convs with bias); DPN107 differs
// only in its convs: groups = 4 in the blocks and no bias anywhere. The
// catalogue therefore holds two identical structures under two ids, a
// documented exception to "no two families build the same structure".
// Training in LEMUR (from those copies): SGD (lr, momentum), cross-entropy,
// gradient norm clipped to 3; the DPN68 copies add Nesterov momentum and
// weight decay 1e-4. Not thread-safe (LibTorch modules).
#ifndef MOE4_WORKER_MODELS_LEMUR_DPN_H_
#define MOE4_WORKER_MODELS_LEMUR_DPN_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// LEMUR's DPNBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + x).
class DpnBlockImpl : public torch::nn::Module {
 public:
  DpnBlockImpl(int channels, int groups, bool bias);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
};
TORCH_MODULE(DpnBlock);

// The network all three files build (their DPN68 / DPN107 / DPN131 classes
// with num_blocks = 3, growth_rate = 32); the families below pick its convs.
class DpnResidualStackImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x);

 protected:
  DpnResidualStackImpl(const ExpertOptions& options, int groups, bool bias, int divisor);

 private:
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  torch::nn::Sequential blocks_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

// DPN107.py: grouped (4) block convs, no conv biases.
class Dpn107Impl : public DpnResidualStackImpl {
 public:
  explicit Dpn107Impl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(Dpn107);

// DPN131.py: plain convs with biases (the same network as DPN68.py).
class Dpn131Impl : public DpnResidualStackImpl {
 public:
  explicit Dpn131Impl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(Dpn131);

// DPN68.py: plain convs with biases (the same network as DPN131.py).
class Dpn68Impl : public DpnResidualStackImpl {
 public:
  explicit Dpn68Impl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(Dpn68);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_DPN_H_
