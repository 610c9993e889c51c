// BayesianNet-1 expert: a Bayes-by-backprop CNN (Blundell et al. 2015, applied
// to convolutions as in Shridhar et al. 2019). Every conv and linear weight is
// a Gaussian posterior N(mu, sigma^2) with sigma = softplus(rho); training
// draws w = mu + sigma * eps (eps ~ N(0, 1), one draw per forward, the
// reparameterisation trick), eval uses the mean weights mu. The
// KL(q(w) || p(w)) against a N(0, 0.1^2) prior reaches the training loss
// through AuxiliaryLossSource. Layout: three stages of two 3x3 Bayesian convs
// (64/128/256 x width) with BN + ReLU and a 2x2 max-pool, GAP, Bayesian
// Linear(256 x width) + ReLU, Bayesian Linear(classes). Not thread-safe (a
// LibTorch module).
#ifndef MOE4_WORKER_MODELS_BAYESIAN_NET_H_
#define MOE4_WORKER_MODELS_BAYESIAN_NET_H_

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "worker/models/auxiliary_loss.h"
#include "worker/models/expert_options.h"

namespace moe4::worker {

inline constexpr double kBayesPriorSigma = 0.1;  // p(w) = N(0, 0.1^2), closed-form KL
inline constexpr double kBayesInitRho = -5.0;    // initial sigma = softplus(-5) ~ 0.0067

// The posterior of one layer's weight (and optional bias): parameters
// "weight_mu", "weight_rho", "bias_mu", "bias_rho".
class BayesLayerImpl : public torch::nn::Module {
 public:
  // KL(q || p) summed over this layer's weights, in nats.
  torch::Tensor kl() const;

 protected:
  BayesLayerImpl(std::vector<int64_t> weight_shape, int64_t fan_in, bool bias);
  // A reparameterised sample in training mode, mu in eval mode.
  torch::Tensor weight() const;
  torch::Tensor bias() const;  // undefined when the layer has none

 private:
  torch::Tensor Sample(const torch::Tensor& mu, const torch::Tensor& rho) const;

  torch::Tensor weight_mu_, weight_rho_, bias_mu_, bias_rho_;
};

class BayesConv2dImpl : public BayesLayerImpl {
 public:
  // "same" padding; no bias (a BatchNorm follows every conv here).
  BayesConv2dImpl(int in, int out, int kernel);
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
  torch::Tensor forward(const torch::Tensor& x);
  // Sum of every Bayesian layer's KL (the data-set-level term of the ELBO).
  torch::Tensor auxiliary_loss() override;

 private:
  torch::nn::Sequential features_{nullptr};
  BayesLinear hidden_{nullptr};
  BayesLinear classifier_{nullptr};
  std::vector<std::shared_ptr<BayesLayerImpl>> bayes_layers_;
};
TORCH_MODULE(BayesianNet);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_BAYESIAN_NET_H_
