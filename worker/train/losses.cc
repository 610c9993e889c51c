#include "worker/train/losses.h"

#include <cmath>

namespace moe4::worker {

torch::Tensor MixupCrossEntropy(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& labels_b,
                                double lam, double smoothing) {
  auto logp = torch::log_softmax(logits, -1);
  auto smooth = -logp.mean(-1);
  auto ce = [&](const torch::Tensor& y) {
    auto index = y.expand(logp.sizes().slice(0, logp.dim() - 1)).unsqueeze(-1);
    auto nll = -logp.gather(-1, index).squeeze(-1);
    return (1.0 - smoothing) * nll + smoothing * smooth;
  };
  if (lam >= 1.0) return ce(labels);
  return lam * ce(labels) + (1.0 - lam) * ce(labels_b);
}

torch::Tensor LoadBalanceLoss(const torch::Tensor& probs) {
  const int64_t k = probs.size(1);
  // f: top-1 share per expert, a constant; P: mean probability, differentiable.
  auto top1 = probs.argmax(1);
  auto f = torch::zeros({k}, probs.options())
               .scatter_add_(0, top1, torch::ones_like(top1, probs.options()))
               .div_(static_cast<double>(probs.size(0)));
  auto p = probs.mean(0);
  return static_cast<double>(k) * (f * p).sum();
}

torch::Tensor NormalisedEntropy(const torch::Tensor& probs) {
  const int64_t k = probs.size(1);
  auto h = -(probs * probs.clamp_min(1e-12).log()).sum(1);
  return k > 1 ? h / std::log(static_cast<double>(k)) : torch::zeros_like(h);
}

torch::Tensor OracleLoss(const torch::Tensor& log_probs, const torch::Tensor& expert_logits,
                         const torch::Tensor& labels, const torch::Tensor& labels_b, double lam, double smoothing) {
  torch::Tensor best;
  {
    torch::NoGradGuard no_grad;
    auto per_expert = MixupCrossEntropy(expert_logits, labels, labels_b, lam, smoothing);
    best = per_expert.argmin(0);  // [B]
  }
  return torch::nll_loss(log_probs, best);
}

LossParts ComputeLoss(const MoEOutput& out, const torch::Tensor& labels, const torch::Tensor& labels_b, double lam,
                      const moe4::v1::Recipe& recipe) {
  LossParts parts;
  parts.cross_entropy = MixupCrossEntropy(out.logits, labels, labels_b, lam, recipe.label_smoothing()).mean();
  auto total = parts.cross_entropy;
  if (recipe.load_balance_weight() > 0) {
    total = total + recipe.load_balance_weight() * LoadBalanceLoss(out.gate.probs);
  }
  if (recipe.entropy_weight() > 0) {
    total = total - recipe.entropy_weight() * NormalisedEntropy(out.gate.probs).mean();
  }
  if (recipe.oracle_weight() > 0) {
    total = total + recipe.oracle_weight() * OracleLoss(out.gate.log_probs, out.expert_logits, labels, labels_b, lam,
                                                        recipe.label_smoothing());
  }
  parts.total = total;
  return parts;
}

}  // namespace moe4::worker
