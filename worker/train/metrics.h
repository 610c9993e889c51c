// Per-epoch metrics of the mixture, computed vectorised on the device: an
// accumulator sums per-batch tensors without synchronising, and one .item()
// pass at the end fills moe4::v1::EpochMetrics. Definitions:
//   gate_mean[i]        mean gate weight of expert i over the test set;
//   routing_share[i]    share of test images whose top-1 gate weight is i;
//   expert_accuracy[i]  top-1 accuracy of expert i's own logits;
//   routing_entropy     mean over images of H(g(x)) / log K, in [0, 1];
//   dead_experts        experts with routing share < 1 / (10 K);
//   ecology             E = T * H / (O + B) with T the recipe's (initial) gate
//                       temperature and H, O, B its entropy, oracle and
//                       load-balance weights: +inf when O + B = 0 < T * H,
//                       NaN when O + B = 0 = T * H (undefined). The learned T
//                       is stored as `temperature`; E with it is derived from
//                       there (v_ecology.ecology_learned).
// Accumulators are used by one thread; the free functions are pure.
#ifndef MOE4_WORKER_TRAIN_METRICS_H_
#define MOE4_WORKER_TRAIN_METRICS_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "moe4/v1/moe4.pb.h"
#include "worker/moe/ensemble.h"

namespace moe4::worker {

// [K] number of rows of `weights` [B, K] whose argmax is each expert.
torch::Tensor RoutingCounts(const torch::Tensor& weights);

int DeadExperts(const std::vector<double>& routing_share);

double Ecology(double temperature, double entropy_weight, double oracle_weight, double load_balance_weight);

// Peak resident set size of the process (CPU) or peak allocated bytes on the
// CUDA device when LibTorch has CUDA.
int64_t PeakMemoryBytes(const torch::Device& device);

// Test-set statistics of the mixture and of each expert.
class EvalAccumulator {
 public:
  EvalAccumulator(int num_experts, const torch::Device& device);
  void Add(const MoEOutput& out, const torch::Tensor& labels);
  // Fills test_loss, test_accuracy, gate_mean, routing_share,
  // expert_accuracy, routing_entropy and dead_experts.
  void Fill(moe4::v1::EpochMetrics* metrics) const;

 private:
  int num_experts_;
  int64_t count_ = 0;
  torch::Tensor loss_sum_;        // scalar, plain CE of the mixture
  torch::Tensor correct_;         // scalar
  torch::Tensor gate_sum_;        // [K]
  torch::Tensor route_count_;     // [K]
  torch::Tensor expert_correct_;  // [K]
  torch::Tensor entropy_sum_;     // scalar
};

// Training-set loss and accuracy; accuracy is against the argmax of the mixed
// targets (labels when lam >= 0.5, else labels_b).
class TrainAccumulator {
 public:
  explicit TrainAccumulator(const torch::Device& device);
  void Add(const torch::Tensor& logits, const torch::Tensor& loss, const torch::Tensor& labels,
           const torch::Tensor& labels_b, double lam);
  double loss() const;
  double accuracy() const;
  int64_t count() const { return count_; }

 private:
  int64_t count_ = 0;
  torch::Tensor loss_sum_;
  torch::Tensor correct_;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_METRICS_H_
