#include "worker/train/metrics.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
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

Specialisation RoutingSpecialisation(const std::vector<double>& joint_counts, int num_experts, int num_classes) {
  Specialisation s;
  const size_t k = static_cast<size_t>(std::max(0, num_experts)), c = static_cast<size_t>(std::max(0, num_classes));
  std::vector<double> expert(k, 0.0), klass(c, 0.0);
  double total = 0;
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = 0; j < c && i * c + j < joint_counts.size(); ++j) {
      expert[i] += joint_counts[i * c + j];
      klass[j] += joint_counts[i * c + j];
      total += joint_counts[i * c + j];
    }
  }
  if (total <= 0) {
    s.bits = s.class_entropy_bits = s.normalised = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  // I = sum p(k,c) log2(p(k,c) / (p(k) p(c))) = sum n log2(n N / (n_k n_c)) / N.
  double mi = 0;
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = 0; j < c && i * c + j < joint_counts.size(); ++j) {
      const double n = joint_counts[i * c + j];
      if (n > 0) mi += n * std::log2(n * total / (expert[i] * klass[j]));
    }
  }
  double h = 0;
  for (double n : klass) {
    if (n > 0) h -= n / total * std::log2(n / total);
  }
  // Rounding can leave -1e-17 where the variables are independent.
  s.bits = std::max(0.0, mi / total);
  s.class_entropy_bits = h;
  s.normalised = h > 0 ? std::min(1.0, s.bits / h) : std::numeric_limits<double>::quiet_NaN();
  return s;
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
  expert_correct_ = torch::zeros({num_experts}, opts);
  entropy_sum_ = torch::zeros({}, opts);
}

void EvalAccumulator::Add(const MoEOutput& out, const torch::Tensor& labels) {
  if (num_classes_ == 0) {
    num_classes_ = static_cast<int>(out.logits.size(1));
    const auto opts = torch::TensorOptions().dtype(torch::kDouble).device(loss_sum_.device());
    route_class_count_ = torch::zeros({num_experts_ * num_classes_}, opts);
    expert_class_correct_ = torch::zeros({num_experts_, num_classes_}, opts);
  }
  count_ += labels.size(0);
  loss_sum_ += torch::cross_entropy_loss(out.logits, labels, {}, at::Reduction::Sum).to(torch::kDouble);
  correct_ += out.logits.argmax(1).eq(labels).sum().to(torch::kDouble);
  gate_sum_ += out.gate.weights.sum(0).to(torch::kDouble);
  // index_add_, not bincount: bincount on CUDA reads its input's maximum back
  // to the host. The routing share is the joint table's row sums.
  const torch::Tensor cell = out.gate.weights.argmax(1) * num_classes_ + labels;
  route_class_count_.index_add_(0, cell, torch::ones({cell.size(0)}, route_class_count_.options()));
  const torch::Tensor expert_right = out.expert_logits.argmax(2).eq(labels.unsqueeze(0)).to(torch::kDouble);  // [K, B]
  expert_correct_ += expert_right.sum(1);
  expert_class_correct_.index_add_(1, labels, expert_right);
  entropy_sum_ += NormalisedEntropy(out.gate.probs).sum().to(torch::kDouble);
}

void EvalAccumulator::Fill(moe4::v1::EpochMetrics* m) const {
  const double n = count_ > 0 ? static_cast<double>(count_) : 1.0;
  m->set_test_loss(loss_sum_.item<double>() / n);
  m->set_test_accuracy(correct_.item<double>() / n);
  m->set_routing_entropy(entropy_sum_.item<double>() / n);
  auto gate = (gate_sum_ / n).cpu();
  auto expert = (expert_correct_ / n).cpu();
  m->clear_gate_mean();
  m->clear_routing_share();
  m->clear_expert_accuracy();
  m->clear_expert_class_accuracy();
  m->clear_num_classes();
  m->clear_specialisation_bits();
  m->clear_specialisation_normalised();
  std::vector<double> joint, class_correct;
  if (num_classes_ > 0) {
    const auto j = route_class_count_.cpu().contiguous();
    const auto r = expert_class_correct_.cpu().contiguous();
    joint.assign(j.data_ptr<double>(), j.data_ptr<double>() + j.numel());
    class_correct.assign(r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
  }
  const size_t c = static_cast<size_t>(num_classes_);
  std::vector<double> shares, class_count(c, 0.0);
  for (int i = 0; i < num_experts_; ++i) {
    double routed = 0;
    for (size_t k = 0; k < c; ++k) {
      routed += joint[i * c + k];
      class_count[k] += joint[i * c + k];
    }
    m->add_gate_mean(gate[i].item<double>());
    m->add_routing_share(routed / n);
    m->add_expert_accuracy(expert[i].item<double>());
    shares.push_back(routed / n);
  }
  m->set_dead_experts(DeadExperts(shares));
  if (num_classes_ == 0) return;  // nothing was evaluated
  m->set_num_classes(num_classes_);
  for (size_t i = 0; i < static_cast<size_t>(num_experts_); ++i) {
    for (size_t k = 0; k < c; ++k) {
      m->add_expert_class_accuracy(class_count[k] > 0 ? class_correct[i * c + k] / class_count[k]
                                                      : std::numeric_limits<double>::quiet_NaN());
    }
  }
  const Specialisation s = RoutingSpecialisation(joint, num_experts_, num_classes_);
  if (!std::isnan(s.bits)) m->set_specialisation_bits(s.bits);
  if (!std::isnan(s.normalised)) m->set_specialisation_normalised(s.normalised);
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
