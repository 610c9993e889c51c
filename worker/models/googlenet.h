// GoogLeNet expert (Inception v1, Szegedy et al. 2015, with BatchNorm as in
// torchvision): 7x7 s2 stem, max-pool, 1x1 + 3x3 convs, max-pool, Inception
// modules 3a-3b, max-pool, 4a-4e, max-pool, 5a-5b (the paper's channel table
// x width), GAP, dropout 0.4, linear. Each module concatenates four branches:
// 1x1; 1x1 -> 3x3; 1x1 -> 5x5 (the paper's 5x5, where torchvision has a 3x3);
// 3x3 max-pool -> 1x1. The two auxiliary classifiers are left out: they are
// optional training-only heads that torchvision also drops by default. Not
// thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_GOOGLENET_H_
#define MOE4_WORKER_MODELS_GOOGLENET_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"
#include "worker/models/layers.h"

namespace moe4::worker {

class InceptionImpl : public torch::nn::Module {
 public:
  InceptionImpl(int in, int ch1x1, int ch3x3_reduce, int ch3x3, int ch5x5_reduce, int ch5x5, int pool_proj);
  torch::Tensor forward(const torch::Tensor& x);
  int out_channels() const { return out_channels_; }

 private:
  int out_channels_;
  ConvBnAct branch1_{nullptr};
  torch::nn::Sequential branch2_{nullptr};
  torch::nn::Sequential branch3_{nullptr};
  ConvBnAct branch4_{nullptr};  // after a 3x3 s1 max-pool
};
TORCH_MODULE(Inception);

class GoogLeNetImpl : public torch::nn::Module {
 public:
  explicit GoogLeNetImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(GoogLeNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_GOOGLENET_H_
