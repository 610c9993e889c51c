// LEMUR's GoogLeNet (ab/nn/nn/GoogLeNet.py; not in the index at the brief's
// commit: read at waleedkhalid1/nn-dataset-1
// 4ac53ab56482bf45ba6859ec5cb3c2c5285f2e60, the only stored copy; its layers
// match LEMUR's measured 9,960,638 parameters exactly). The file is
// torchvision's GoogLeNet (BasicConv2d = conv without bias -> BN(eps 1e-3) ->
// ReLU; Inception modules whose "5x5" branch is a 3x3, as in torchvision;
// max-pools with ceil_mode) with aux_logits forced on, transform_input off,
// dropout prm['dropout'] = 0.2 before the final linear and prm['dropout_aux']
// = 0.7 in the heads.
//
// The two auxiliary heads (after 4a on 512 channels, after 4d on 528: adaptive
// average pool to 4x4 -> BasicConv2d 1x1 to 128 -> Linear(2048, 1024) -> ReLU
// -> Dropout(0.7) -> Linear(1024, classes)) are always built: 4,350,484 of the
// 9,960,638 parameters at 3x32x32. LEMUR's _forward runs them in training mode
// only (their BatchNorms update running statistics), but its forward returns
// the main logits alone and learn() applies cross-entropy to those, so the
// heads never reach the loss: weight 0, no gradient. Through
// AuxiliaryHeadsSource this module keeps their logits of each training forward
// and reports weight 0.
//
// Explicit init ported: conv and linear weights truncated-normal (std 0.01,
// bounds +-2), BN weight 1 and bias 0; linear biases keep the default init.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_GOOGLENET_H_
#define MOE4_WORKER_MODELS_LEMUR_GOOGLENET_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/auxiliary_heads.h"
#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// Conv (no bias) -> BatchNorm(eps 1e-3) -> ReLU.
class GoogLeNetConvImpl : public torch::nn::Module {
 public:
  GoogLeNetConvImpl(int in, int out, int kernel, int stride = 1, int padding = 0);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(GoogLeNetConv);

// Four branches concatenated: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 (torchvision's
// stand-in for the paper's 5x5); 3x3 s1 max-pool -> 1x1.
class GoogLeNetInceptionImpl : public torch::nn::Module {
 public:
  GoogLeNetInceptionImpl(int in, int ch1x1, int ch3x3_reduce, int ch3x3, int ch5x5_reduce, int ch5x5, int pool_proj);
  torch::Tensor forward(const torch::Tensor& x);
  int out_channels() const { return out_channels_; }

 private:
  int out_channels_;
  GoogLeNetConv branch1_{nullptr};
  torch::nn::Sequential branch2_{nullptr};
  torch::nn::Sequential branch3_{nullptr};
  GoogLeNetConv branch4_{nullptr};  // after the max-pool
};
TORCH_MODULE(GoogLeNetInception);

// Adaptive average pool to 4x4 -> 1x1 conv to 128 -> FC 1024 -> ReLU ->
// Dropout(0.7) -> FC classes.
class GoogLeNetAuxImpl : public torch::nn::Module {
 public:
  GoogLeNetAuxImpl(int in, int conv_channels, int hidden, int num_classes);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  GoogLeNetConv conv_{nullptr};
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Linear fc2_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(GoogLeNetAux);

class GoogLeNetImpl : public torch::nn::Module, public AuxiliaryHeadsSource {
 public:
  explicit GoogLeNetImpl(const ExpertOptions& options);
  // The main logits; in training mode also runs both heads and keeps their
  // logits ({aux1, aux2}, network order).
  torch::Tensor forward(const torch::Tensor& x);

  std::vector<torch::Tensor> auxiliary_logits() const override { return aux_logits_; }
  // 0: LEMUR's forward and learn() never use the heads' outputs.
  double auxiliary_weight() const override { return 0.0; }

 private:
  GoogLeNetConv conv1_{nullptr};
  GoogLeNetConv conv2_{nullptr};
  GoogLeNetConv conv3_{nullptr};
  GoogLeNetInception inception3a_{nullptr}, inception3b_{nullptr};
  GoogLeNetInception inception4a_{nullptr}, inception4b_{nullptr}, inception4c_{nullptr}, inception4d_{nullptr},
      inception4e_{nullptr};
  GoogLeNetInception inception5a_{nullptr}, inception5b_{nullptr};
  GoogLeNetAux aux1_{nullptr};
  GoogLeNetAux aux2_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
  std::vector<torch::Tensor> aux_logits_;  // from the last training-mode forward
};
TORCH_MODULE(GoogLeNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_GOOGLENET_H_
