#include "worker/models/lemur/diffuser.h"

#include "worker/models/lemur/lemur_layers.h"

namespace moe4::worker::lemur {
namespace {

constexpr int kHidden = 64;
constexpr int64_t kTimesteps = 100;
constexpr double kBetaStart = 1e-5;
constexpr double kBetaEnd = 0.01;

}  // namespace

DiffuserImpl::DiffuserImpl(const ExpertOptions& options) {
  const int hidden = Scaled(kHidden, options.width);
  time_embed_ = register_module("time_embed", torch::nn::Sequential(torch::nn::Linear(1, hidden), torch::nn::ReLU(),
                                                                    torch::nn::Linear(hidden, hidden)));
  encoder_ = register_module(
      "encoder",
      torch::nn::Sequential(
          torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels, hidden, 3).padding(1)), torch::nn::ReLU(),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, hidden, 3).padding(1)), torch::nn::ReLU()));
  classifier_ = register_module("classifier", torch::nn::Linear(hidden, options.num_classes));
  // LEMUR keeps the schedule as a plain attribute in float32; a buffer follows
  // the module across devices.
  alpha_bar_ = register_buffer("alpha_bar", torch::cumprod(1.0 - torch::linspace(kBetaStart, kBetaEnd, kTimesteps), 0));
}

torch::Tensor DiffuserImpl::forward(const torch::Tensor& x) {
  const int64_t batch = x.size(0);
  torch::Tensor input = x;
  torch::Tensor t;
  if (is_training()) {
    const auto steps = torch::randint(0, kTimesteps, {batch}, x.options().dtype(torch::kLong));
    const auto abar = alpha_bar_.index_select(0, steps).view({-1, 1, 1, 1});
    input = torch::sqrt(abar) * x + torch::sqrt(1.0 - abar) * torch::randn_like(x);
    t = steps.to(x.scalar_type());
  } else {
    t = torch::zeros({batch}, x.options());
  }
  const auto embedding = time_embed_->forward(t.unsqueeze(-1)).view({batch, -1, 1, 1});
  const auto features = encoder_->forward(input) + embedding;
  return classifier_->forward(torch::adaptive_avg_pool2d(features, {1, 1}).flatten(1));
}

}  // namespace moe4::worker::lemur
