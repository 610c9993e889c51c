#include "worker/models/bayesian_net.h"

#include <cmath>

#include "worker/models/layers.h"

namespace moe4::worker {

BayesLayerImpl::BayesLayerImpl(std::vector<int64_t> weight_shape, int64_t fan_in, bool bias) {
  torch::NoGradGuard no_grad;
  // mu starts where a deterministic layer would (Kaiming-normal, fan-in, ReLU
  // gain); sigma starts small so early training sees nearly the mean network.
  weight_mu_ = register_parameter("weight_mu", torch::randn(weight_shape) * std::sqrt(2.0 / fan_in));
  weight_rho_ = register_parameter("weight_rho", torch::full(weight_shape, kBayesInitRho));
  if (bias) {
    bias_mu_ = register_parameter("bias_mu", torch::zeros({weight_shape[0]}));
    bias_rho_ = register_parameter("bias_rho", torch::full({weight_shape[0]}, kBayesInitRho));
  }
}

torch::Tensor BayesLayerImpl::Sample(const torch::Tensor& mu, const torch::Tensor& rho) const {
  if (!is_training()) return mu;
  return mu + torch::softplus(rho) * torch::randn_like(mu);
}

torch::Tensor BayesLayerImpl::weight() const { return Sample(weight_mu_, weight_rho_); }

torch::Tensor BayesLayerImpl::bias() const {
  return bias_mu_.defined() ? Sample(bias_mu_, bias_rho_) : torch::Tensor();
}

torch::Tensor BayesLayerImpl::kl() const {
  // KL(N(mu, s^2) || N(0, p^2)) = log(p / s) + (s^2 + mu^2) / (2 p^2) - 1/2.
  const double p = kBayesPriorSigma;
  auto term = [p](const torch::Tensor& mu, const torch::Tensor& rho) {
    auto sigma = torch::softplus(rho);
    return (std::log(p) - torch::log(sigma) + (sigma.square() + mu.square()) / (2 * p * p) - 0.5).sum();
  };
  auto total = term(weight_mu_, weight_rho_);
  if (bias_mu_.defined()) total = total + term(bias_mu_, bias_rho_);
  return total;
}

BayesConv2dImpl::BayesConv2dImpl(int in, int out, int kernel)
    : BayesLayerImpl({out, in, kernel, kernel}, static_cast<int64_t>(in) * kernel * kernel, /*bias=*/false),
      padding_(kernel / 2) {}

torch::Tensor BayesConv2dImpl::forward(const torch::Tensor& x) {
  return torch::conv2d(x, weight(), bias(), /*stride=*/1, padding_);
}

BayesLinearImpl::BayesLinearImpl(int in, int out) : BayesLayerImpl({out, in}, in, /*bias=*/true) {}

torch::Tensor BayesLinearImpl::forward(const torch::Tensor& x) { return torch::linear(x, weight(), bias()); }

BayesianNetImpl::BayesianNetImpl(const ExpertOptions& options) {
  // Reference events: the three max-pools.
  DownsamplePlan plan(options.image_size, 3);
  features_ = register_module("features", torch::nn::Sequential());
  int in = options.in_channels;
  for (int reference : {64, 128, 256}) {
    const int out = ScaleChannels(reference, options.width);
    for (int i = 0; i < 2; ++i) {
      BayesConv2d conv(i == 0 ? in : out, out, 3);
      bayes_layers_.push_back(conv.ptr());
      features_->push_back(conv);
      features_->push_back(torch::nn::BatchNorm2d(out));
      features_->push_back(torch::nn::ReLU(true));
    }
    if (plan.Next()) features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
    in = out;
  }
  const int hidden = ScaleChannels(256, options.width);
  hidden_ = register_module("hidden", BayesLinear(in, hidden));
  classifier_ = register_module("classifier", BayesLinear(hidden, options.num_classes));
  bayes_layers_.push_back(hidden_.ptr());
  bayes_layers_.push_back(classifier_.ptr());
}

torch::Tensor BayesianNetImpl::forward(const torch::Tensor& x) {
  auto y = torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  return classifier_->forward(torch::relu(hidden_->forward(y)));
}

torch::Tensor BayesianNetImpl::auxiliary_loss() {
  torch::Tensor total;
  for (const auto& layer : bayes_layers_) total = total.defined() ? total + layer->kl() : layer->kl();
  return total;
}

}  // namespace moe4::worker
