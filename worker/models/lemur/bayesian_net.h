// LEMUR's BayesianNet-1 (ab/nn/nn/BayesianNet-1.py). No copy of that file is in
// the index; ported from LEMUR's sibling files, which share its code line for
// line except the layer list (BayesianNet-3.py at waleedkhalid1/nn-dataset-1
// 8d4abaca1f3cdc6be6a8c10b6e0a88f0c6b30462, and the AlexNet-shaped sibling
// with the February-2025 signature), and from the layer list of the
// 3-conv/3-FC model of Shridhar et al.'s PyTorch-BayesianCNN that LEMUR's
// Bayesian files take their code from. That list reproduces LEMUR's measured
// counts exactly (3,565,268 at 3x32x32, 3,562,068 at 1x28x28).
//
// Layers (Bayes by backprop with the local reparameterisation trick): BBB conv
// 5x5 pad 2 to 32 -> Softplus -> max-pool 3/2; BBB conv 5x5 pad 2 to 64 ->
// Softplus -> max-pool 3/2; BBB conv 5x5 pad 1 to 128 -> Softplus -> max-pool
// 3/2; flatten to 2x2x128; BBB linear 1000 -> Softplus -> BBB linear 1000 ->
// Softplus -> BBB linear classes. Each BBB layer holds W_mu, W_rho, bias_mu,
// bias_rho (so twice a plain layer's parameters), sigma = log1p(exp(rho)), and
// outputs mu_act + sqrt(1e-16 + var_act) * eps with mu_act = op(x, W_mu,
// bias_mu), var_act = op(x^2, sigma_W^2, sigma_b^2), eps ~ N(0, 1) per output
// element. Init: mu ~ N(0, 0.1), rho ~ N(-5, 0.1).
//
// Quirks kept: (1) the layers sample in eval mode too (LEMUR's `sample=True`
// default makes `self.training or sample` always true), so eval logits are
// stochastic. (2) The flatten is `view(-1, 512)` against a fixed-size first
// linear layer: only inputs whose final map is exactly 2x2 give logits, i.e.
// square sides 31 to 38; elsewhere we throw (LEMUR fails at the flatten or in
// the loss, its logits then having the wrong batch size). (3) The KL:
// LEMUR's forward sums each layer's KL, but `Net.__call__` keeps only the
// logits and learn() is plain cross-entropy (SGD, gradient norm clipped to 3),
// so the KL never reaches the loss. kl() computes it exactly as LEMUR does
// (its calculate_kl called with prior and posterior swapped, i.e.
// KL(N(0, 0.1^2) || q)); auxiliary_loss() returns 0 so the objective stays
// LEMUR's. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MODELS_LEMUR_BAYESIAN_NET_H_
#define MOE4_WORKER_MODELS_LEMUR_BAYESIAN_NET_H_

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "worker/models/auxiliary_loss.h"
#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

// A Bayes-by-backprop layer's posterior (W_mu, W_rho, bias_mu, bias_rho) and
// its KL term.
class BayesLayerImpl : public torch::nn::Module {
 public:
  // LEMUR's kl_loss(): sum over weights and biases of
  // 0.5 (2 log(sigma / s0) - 1 + (s0 / sigma)^2 + (mu / sigma)^2), s0 = 0.1.
  torch::Tensor kl() const;

 protected:
  explicit BayesLayerImpl(std::vector<int64_t> weight_shape);
  // One local-reparameterisation sample given the mean and variance
  // pre-activations.
  static torch::Tensor Sample(const torch::Tensor& act_mu, const torch::Tensor& act_var);

  torch::Tensor W_mu_, W_rho_, bias_mu_, bias_rho_;
};

class BayesConv2dImpl : public BayesLayerImpl {
 public:
  BayesConv2dImpl(int in, int out, int kernel, int padding);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t padding_;
};
TORCH_MODULE(BayesConv2d);

class BayesLinearImpl : public BayesLayerImpl {
 public:
  BayesLinearImpl(int in, int out);
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(BayesLinear);

class BayesianNetImpl : public torch::nn::Module, public AuxiliaryLossSource {
 public:
  explicit BayesianNetImpl(const ExpertOptions& options);
  // Throws std::invalid_argument unless the third pool leaves a 2x2 map
  // (square inputs 31..38).
  torch::Tensor forward(const torch::Tensor& x);
  // Sum of every layer's kl(): the term LEMUR's forward computes and drops.
  torch::Tensor kl() const;
  // A zero scalar: LEMUR's loss has no KL term (see the file comment).
  torch::Tensor auxiliary_loss() override;

 private:
  BayesConv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  BayesLinear fc1_{nullptr}, fc2_{nullptr}, fc3_{nullptr};
  int64_t conv3_channels_;
  std::vector<std::shared_ptr<BayesLayerImpl>> layers_;  // all six, for kl()
};
TORCH_MODULE(BayesianNet);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_BAYESIAN_NET_H_
