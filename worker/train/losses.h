// The training loss of the mixture, vectorised over the batch:
//   total = CE_ls(mixup)  +  B * LB  -  H * entropy  +  O * oracle
// where
//   CE_ls   label-smoothed cross-entropy of the mixture logits against the
//           mixup targets lam * y_a + (1 - lam) * y_b;
//   LB      Switch-style load balance K * sum_i f_i * P_i, f_i the share of the
//           batch whose top-1 expert is i (a count, constant), P_i the mean
//           dense gate probability (differentiable: the published code
//           detached it, so it never trained the gate);
//   entropy mean normalised routing entropy of the dense gate, [0, 1] (a
//           bonus: H > 0 rewards soft routing);
//   oracle  NLL of the gate's log-probabilities against the per-sample expert
//           with the lowest (detached) mixup CE.
// Pure functions; safe from any thread.
#ifndef MOE4_WORKER_TRAIN_LOSSES_H_
#define MOE4_WORKER_TRAIN_LOSSES_H_

#include <torch/torch.h>

#include "moe4/v1/moe4.pb.h"
#include "worker/moe/ensemble.h"

namespace moe4::worker {

// Per-sample [B] label-smoothed CE against mixup targets; logits [..., B, C].
torch::Tensor MixupCrossEntropy(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& labels_b,
                                double lam, double smoothing);

// Scalar K * sum_i f_i * P_i from dense gate probabilities [B, K]. Equals 1
// when routing is perfectly balanced; gradients reach the gate through P.
torch::Tensor LoadBalanceLoss(const torch::Tensor& probs);

// Per-sample [B] entropy of probability rows [B, K] divided by log K.
torch::Tensor NormalisedEntropy(const torch::Tensor& probs);

// Scalar oracle term; expert_logits [K, B, C], log_probs [B, K].
torch::Tensor OracleLoss(const torch::Tensor& log_probs, const torch::Tensor& expert_logits,
                         const torch::Tensor& labels, const torch::Tensor& labels_b, double lam, double smoothing);

struct LossParts {
  torch::Tensor total;          // scalar, what backward() runs on
  torch::Tensor cross_entropy;  // scalar mean CE of the mixture
};

LossParts ComputeLoss(const MoEOutput& out, const torch::Tensor& labels, const torch::Tensor& labels_b, double lam,
                      const moe4::v1::Recipe& recipe);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_LOSSES_H_
