// LEMUR's Diffuser (ab/nn/nn/Diffuser.py). Not in the index at the brief's
// commit: read as inlined verbatim (the `DiffuserExpert` class and its `UNet`)
// in ABrain-One's generated MoE files, which carry the February-2025 form of
// the file (device in __init__, schedule built in __init__); an older stored
// copy (waleedkhalid1/nn-dataset-1 8d4abaca) builds the same layers.
//
// Despite its `UNet` class there is no U: a timestep MLP (Linear(1, 64) ->
// ReLU -> Linear(64, 64)), an encoder of two 3x3 convs (padding 1, with bias)
// to 64 channels with ReLU, the timestep embedding added to every pixel, global
// average pool, Linear(64, classes).
//
// Training behaviour, as LEMUR's forward does it: in training mode each image
// gets its own step t ~ U{0..99} and is noised as
// x_t = sqrt(abar_t) x + sqrt(1 - abar_t) eps, eps ~ N(0, 1), with abar the
// cumulative product of 1 - beta, beta = linspace(1e-5, 0.01, 100); the MLP
// sees t itself as a float (0..99, not normalised). In eval mode the input is
// not noised and t = 0. (The older copy used beta = linspace(1e-4, 0.02).)
// Any input side works. No explicit init. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_DIFFUSER_H_
#define MOE4_WORKER_MODELS_LEMUR_DIFFUSER_H_

#include <torch/torch.h>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

class DiffuserImpl : public torch::nn::Module {
 public:
  explicit DiffuserImpl(const ExpertOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential time_embed_{nullptr};
  torch::nn::Sequential encoder_{nullptr};
  torch::nn::Linear classifier_{nullptr};
  torch::Tensor alpha_bar_;  // [kTimesteps] buffer, moves with the module
};
TORCH_MODULE(Diffuser);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_DIFFUSER_H_
