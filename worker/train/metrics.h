// Per-epoch metrics of the mixture, computed vectorised on the device: an
// accumulator sums per-batch tensors without synchronising, and one .item()
// pass at the end fills moe4::v1::EpochMetrics. Definitions:
//   gate_mean[i]        mean gate weight of expert i over the test set;
//   routing_share[i]    share of test images whose top-1 gate weight is i;
//   expert_accuracy[i]  top-1 accuracy of expert i's own logits;
//   routing_entropy     mean over images of H(g(x)) / log K, in [0, 1];
//   dead_experts        experts with routing share < 1 / (10 K);
//   expert_class_accuracy[i*C+c]  top-1 accuracy of expert i's own logits on
//                       the test images of class c (NaN: no such image);
//   specialisation_bits I(class; top-1 routed expert) in bits, from the
//                       joint counts of (top-1 expert, label) over the test
//                       set: 0 when routing ignores the class, H(class) when
//                       the expert determines it; specialisation_normalised
//                       is I / H(class) in [0, 1] (unset when H(class) = 0);
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

// I(class; expert) of a joint count table.
struct Specialisation {
  double bits = 0;                // I(class; expert); NaN for an empty table
  double class_entropy_bits = 0;  // H(class)
  double normalised = 0;          // bits / H(class); NaN when H(class) = 0
};
// `joint_counts` is [num_experts x num_classes], row-major: how many test
// images of each class went (top-1) to each expert.
Specialisation RoutingSpecialisation(const std::vector<double>& joint_counts, int num_experts, int num_classes);

double Ecology(double temperature, double entropy_weight, double oracle_weight, double load_balance_weight);

// Peak resident set size of the process (CPU) or peak allocated bytes on the
// CUDA device when LibTorch has CUDA.
int64_t PeakMemoryBytes(const torch::Device& device);

// Test-set statistics of the mixture and of each expert. The number of
// classes is the width of the logits of the first Add.
class EvalAccumulator {
 public:
  EvalAccumulator(int num_experts, const torch::Device& device);
  void Add(const MoEOutput& out, const torch::Tensor& labels);
  // Fills test_loss, test_accuracy, gate_mean, routing_share,
  // expert_accuracy, routing_entropy, dead_experts, num_classes,
  // expert_class_accuracy and the specialisation figures.
  void Fill(moe4::v1::EpochMetrics* metrics) const;

 private:
  int num_experts_;
  int num_classes_ = 0;  // 0 until the first Add
  int64_t count_ = 0;
  torch::Tensor loss_sum_;        // scalar, plain CE of the mixture
  torch::Tensor correct_;         // scalar
  torch::Tensor gate_sum_;        // [K]
  torch::Tensor expert_correct_;  // [K]
  torch::Tensor entropy_sum_;     // scalar
  // [K, C], allocated by the first Add: images of class c routed (top-1) to
  // expert k; images of class c that expert k classifies right.
  torch::Tensor route_class_count_;
  torch::Tensor expert_class_correct_;
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
