#include "worker/models/lemur/bayesian_net.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

// LEMUR's priors dict for Net (posterior_rho_initial is -5 there, -3 in the
// layers' own default, which Net overrides).
constexpr double kPriorSigma = 0.1;  // prior_mu is 0
constexpr double kMuInitMean = 0.0, kMuInitStd = 0.1;
constexpr double kRhoInitMean = -5.0, kRhoInitStd = 0.1;
constexpr double kVarianceFloor = 1e-16;
constexpr int kFinalSide = 2;  // FlattenLayer(2 * 2 * 128)

// The posterior scale: sigma = softplus(rho) = log(1 + e^rho).
torch::Tensor Sigma(const torch::Tensor& rho) { return torch::log1p(torch::exp(rho)); }

// LEMUR's calculate_kl(mu_q, sig_q, mu_p, sig_p) called as
// calculate_kl(prior_mu, prior_sigma, mu, sigma).
torch::Tensor LemurKl(const torch::Tensor& mu, const torch::Tensor& sigma) {
  return 0.5 * (2.0 * torch::log(sigma / kPriorSigma) - 1.0 + (kPriorSigma / sigma).pow(2) + (mu / sigma).pow(2)).sum();
}

}  // namespace

BayesLayerImpl::BayesLayerImpl(std::vector<int64_t> weight_shape) {
  const int64_t out = weight_shape[0];
  W_mu_ = register_parameter("W_mu", torch::empty(weight_shape));
  W_rho_ = register_parameter("W_rho", torch::empty(weight_shape));
  bias_mu_ = register_parameter("bias_mu", torch::empty({out}));
  bias_rho_ = register_parameter("bias_rho", torch::empty({out}));
  torch::NoGradGuard no_grad;
  W_mu_.normal_(kMuInitMean, kMuInitStd);
  W_rho_.normal_(kRhoInitMean, kRhoInitStd);
  bias_mu_.normal_(kMuInitMean, kMuInitStd);
  bias_rho_.normal_(kRhoInitMean, kRhoInitStd);
}

torch::Tensor BayesLayerImpl::kl() const { return LemurKl(W_mu_, Sigma(W_rho_)) + LemurKl(bias_mu_, Sigma(bias_rho_)); }

torch::Tensor BayesLayerImpl::Sample(const torch::Tensor& act_mu, const torch::Tensor& act_var) {
  // Always sampled, in eval mode too (LEMUR's quirk, see the header).
  return act_mu + torch::sqrt(kVarianceFloor + act_var) * torch::randn_like(act_mu);
}

BayesConv2dImpl::BayesConv2dImpl(int in, int out, int kernel, int padding)
    : BayesLayerImpl({out, in, kernel, kernel}), padding_(padding) {}

torch::Tensor BayesConv2dImpl::forward(const torch::Tensor& x) {
  const auto act_mu = torch::conv2d(x, W_mu_, bias_mu_, /*stride=*/1, padding_);
  const auto act_var = torch::conv2d(x.pow(2), Sigma(W_rho_).pow(2), Sigma(bias_rho_).pow(2), /*stride=*/1, padding_);
  return Sample(act_mu, act_var);
}

BayesLinearImpl::BayesLinearImpl(int in, int out) : BayesLayerImpl({out, in}) {}

torch::Tensor BayesLinearImpl::forward(const torch::Tensor& x) {
  const auto act_mu = torch::linear(x, W_mu_, bias_mu_);
  const auto act_var = torch::linear(x.pow(2), Sigma(W_rho_).pow(2), Sigma(bias_rho_).pow(2));
  return Sample(act_mu, act_var);
}

BayesianNetImpl::BayesianNetImpl(const ExpertOptions& options) {
  const double w = options.width;
  const int c1 = Scaled(32, w), c2 = Scaled(64, w), c3 = Scaled(128, w);
  const int hidden = Scaled(1000, w);
  conv3_channels_ = c3;
  conv1_ = register_module("conv1", BayesConv2d(options.in_channels, c1, 5, 2));
  conv2_ = register_module("conv2", BayesConv2d(c1, c2, 5, 2));
  conv3_ = register_module("conv3", BayesConv2d(c2, c3, 5, 1));
  fc1_ = register_module("fc1", BayesLinear(kFinalSide * kFinalSide * c3, hidden));
  fc2_ = register_module("fc2", BayesLinear(hidden, hidden));
  fc3_ = register_module("fc3", BayesLinear(hidden, options.num_classes));
  layers_ = {conv1_.ptr(), conv2_.ptr(), conv3_.ptr(), fc1_.ptr(), fc2_.ptr(), fc3_.ptr()};
}

torch::Tensor BayesianNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::max_pool2d(torch::softplus(conv1_->forward(x)), 3, 2);
  y = torch::max_pool2d(torch::softplus(conv2_->forward(y)), 3, 2);
  y = torch::max_pool2d(torch::softplus(conv3_->forward(y)), 3, 2);
  if (y.size(2) != kFinalSide || y.size(3) != kFinalSide) {
    throw std::invalid_argument("lemur BayesianNet-1: the last pool leaves a " + std::to_string(y.size(2)) + "x" +
                                std::to_string(y.size(3)) +
                                " map; LEMUR's flatten (view(-1, 2*2*128)) and first linear layer need exactly 2x2, "
                                "i.e. a square input side of 31 to 38 pixels");
  }
  y = torch::softplus(fc1_->forward(y.reshape({y.size(0), kFinalSide * kFinalSide * conv3_channels_})));
  y = torch::softplus(fc2_->forward(y));
  return fc3_->forward(y);
}

torch::Tensor BayesianNetImpl::kl() const {
  torch::Tensor total = torch::zeros({}, conv1_->parameters().front().options());
  for (const auto& layer : layers_) total = total + layer->kl();
  return total;
}

torch::Tensor BayesianNetImpl::auxiliary_loss() {
  // LEMUR's Net.__call__ returns forward()[0], dropping the KL its forward
  // summed; learn() is cross-entropy on the logits alone. Returning kl() here
  // would turn the expert into an ELBO-trained network LEMUR never trained.
  return torch::zeros({}, conv1_->parameters().front().options().requires_grad(false));
}

}  // namespace moe4::worker::lemur
