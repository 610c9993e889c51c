#include "worker/train/metrics.h"

#include <sys/resource.h>

#include <limits>

#include "worker/train/torch_cuda.h"
#ifdef MOE4_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "worker/train/losses.h"

namespace moe4::worker {

torch::Tensor RoutingCounts(const torch::Tensor& weights) {
  const int64_t k = weights.size(1);
  return torch::bincount(weights.argmax(1), /*weights=*/{}, k).to(torch::kDouble);
}

int DeadExperts(const std::vector<double>& routing_share) {
  const double threshold = 1.0 / (10.0 * static_cast<double>(routing_share.size()));
  int dead = 0;
  for (double share : routing_share) dead += share < threshold ? 1 : 0;
  return dead;
}

double Ecology(double temperature, double entropy_weight, double oracle_weight, double load_balance_weight) {
  const double denominator = oracle_weight + load_balance_weight;
  if (denominator > 0) return temperature * entropy_weight / denominator;
  // Nothing pulls the routing together: unbounded when something spreads it
  // (T*H > 0), else 0/0.
  return temperature * entropy_weight > 0 ? std::numeric_limits<double>::infinity()
                                          : std::numeric_limits<double>::quiet_NaN();
}

int64_t PeakMemoryBytes(const torch::Device& device) {
#ifdef MOE4_TORCH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return stats.allocated_bytes[0].peak;  // StatType::AGGREGATE
  }
#endif
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

EvalAccumulator::EvalAccumulator(int num_experts, const torch::Device& device) : num_experts_(num_experts) {
  const auto opts = torch::TensorOptions().dtype(torch::kDouble).device(device);
  loss_sum_ = torch::zeros({}, opts);
  correct_ = torch::zeros({}, opts);
  gate_sum_ = torch::zeros({num_experts}, opts);
  route_count_ = torch::zeros({num_experts}, opts);
  expert_correct_ = torch::zeros({num_experts}, opts);
  entropy_sum_ = torch::zeros({}, opts);
}

void EvalAccumulator::Add(const MoEOutput& out, const torch::Tensor& labels) {
  count_ += labels.size(0);
  loss_sum_ += torch::cross_entropy_loss(out.logits, labels, {}, at::Reduction::Sum).to(torch::kDouble);
  correct_ += out.logits.argmax(1).eq(labels).sum().to(torch::kDouble);
  gate_sum_ += out.gate.weights.sum(0).to(torch::kDouble);
  route_count_ += RoutingCounts(out.gate.weights);
  expert_correct_ += out.expert_logits.argmax(2).eq(labels.unsqueeze(0)).sum(1).to(torch::kDouble);
  entropy_sum_ += NormalisedEntropy(out.gate.probs).sum().to(torch::kDouble);
}

void EvalAccumulator::Fill(moe4::v1::EpochMetrics* m) const {
  const double n = count_ > 0 ? static_cast<double>(count_) : 1.0;
  m->set_test_loss(loss_sum_.item<double>() / n);
  m->set_test_accuracy(correct_.item<double>() / n);
  m->set_routing_entropy(entropy_sum_.item<double>() / n);
  auto gate = (gate_sum_ / n).cpu();
  auto share = (route_count_ / n).cpu();
  auto expert = (expert_correct_ / n).cpu();
  m->clear_gate_mean();
  m->clear_routing_share();
  m->clear_expert_accuracy();
  std::vector<double> shares;
  for (int i = 0; i < num_experts_; ++i) {
    m->add_gate_mean(gate[i].item<double>());
    m->add_routing_share(share[i].item<double>());
    m->add_expert_accuracy(expert[i].item<double>());
    shares.push_back(share[i].item<double>());
  }
  m->set_dead_experts(DeadExperts(shares));
}

TrainAccumulator::TrainAccumulator(const torch::Device& device) {
  const auto opts = torch::TensorOptions().dtype(torch::kDouble).device(device);
  loss_sum_ = torch::zeros({}, opts);
  correct_ = torch::zeros({}, opts);
}

void TrainAccumulator::Add(const torch::Tensor& logits, const torch::Tensor& loss, const torch::Tensor& labels,
                           const torch::Tensor& labels_b, double lam) {
  const int64_t b = labels.size(0);
  count_ += b;
  loss_sum_ += loss.detach().to(torch::kDouble) * static_cast<double>(b);
  const auto& target = lam >= 0.5 ? labels : labels_b;
  correct_ += logits.detach().argmax(1).eq(target).sum().to(torch::kDouble);
}

double TrainAccumulator::loss() const { return count_ > 0 ? loss_sum_.item<double>() / count_ : 0.0; }

double TrainAccumulator::accuracy() const { return count_ > 0 ? correct_.item<double>() / count_ : 0.0; }

}  // namespace moe4::worker
