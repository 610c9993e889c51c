// Diffuser expert: the encoder half of a DDPM U-Net (Ho et al. 2020) used as
// a noise-conditional classifier, like the classifiers that guide diffusion
// sampling (Dhariwal & Nichol 2021). A 3x3 stem (64 x width), four levels of
// one residual block each (64/128/128/256 x width; GroupNorm -> SiLU -> 3x3
// conv, plus the projected timestep embedding, GroupNorm -> SiLU -> 3x3 conv)
// with 3x3 s2 conv downsampling between levels, GroupNorm -> SiLU -> GAP ->
// linear. The timestep t enters as a sinusoidal embedding through a two-layer
// SiLU MLP. Training noises each input at its own random step t of a linear
// beta schedule: x_t = sqrt(abar_t) x + sqrt(1 - abar_t) eps; eval classifies
// the clean input at t = 0. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_DIFFUSER_H_
#define MOE4_WORKER_MODELS_DIFFUSER_H_

#include <torch/torch.h>

#include <vector>

#include "worker/models/expert_options.h"

namespace moe4::worker {

inline constexpr int kDiffusionSteps = 1000;  // DDPM's T, betas linear from 1e-4 to 0.02
// Training draws t uniformly from [0, kDiffuserMaxTrainStep): at t = 199
// abar ~ 0.67, so the signal still dominates. A classifier trained over all T
// steps (as guidance needs) would spend most of its data on near-pure noise,
// which the clean-input evaluation here never sees.
inline constexpr int kDiffuserMaxTrainStep = 200;

// Sinusoidal embedding [B, dim] of integer timesteps [B] (the Transformer's
// positional encoding, as in DDPM); `dim` must be even.
torch::Tensor TimestepEmbedding(const torch::Tensor& t, int dim);

class DiffuserResBlockImpl : public torch::nn::Module {
 public:
  DiffuserResBlockImpl(int in, int out, int time_dim);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& time);

 private:
  torch::nn::GroupNorm norm1_{nullptr};
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::Linear time_proj_{nullptr};
  torch::nn::GroupNorm norm2_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::Conv2d shortcut_{nullptr};  // 1x1, null when in == out
};
TORCH_MODULE(DiffuserResBlock);

class DiffuserImpl : public torch::nn::Module {
 public:
  explicit DiffuserImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  // abar_t for t in [0, kDiffusionSteps), a buffer [T].
  const torch::Tensor& alpha_bar() const { return alpha_bar_; }

 private:
  int base_;
  torch::Tensor alpha_bar_;
  torch::nn::Linear time_fc1_{nullptr};
  torch::nn::Linear time_fc2_{nullptr};
  torch::nn::Conv2d stem_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};        // one per level
  std::vector<torch::nn::Conv2d> downsamplers_;  // after levels 0-2; null where the plan keeps the size
  torch::nn::GroupNorm head_norm_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(Diffuser);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_DIFFUSER_H_
