#include "worker/train/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace moe4::worker {
namespace {

TEST(MetricsTest, RoutingCountsAndDeadExperts) {
  auto w = torch::tensor({{0.6, 0.3, 0.1}, {0.2, 0.7, 0.1}, {0.5, 0.4, 0.1}});
  EXPECT_TRUE(torch::equal(RoutingCounts(w), torch::tensor({2.0, 1.0, 0.0}, torch::kDouble)));
  // K = 4: dead below 1 / 40 = 0.025.
  EXPECT_EQ(DeadExperts({0.5, 0.47, 0.024, 0.006}), 2);
  EXPECT_EQ(DeadExperts({0.25, 0.25, 0.25, 0.25}), 0);
  EXPECT_EQ(DeadExperts({0.5, 0.475, 0.025, 0.0}), 1);  // the threshold itself is alive
}

TEST(MetricsTest, EcologyIsTHOverOPlusB) {
  EXPECT_NEAR(Ecology(2.0, 0.1, 0.05, 0.01), 2.0 * 0.1 / 0.06, 1e-12);
  EXPECT_DOUBLE_EQ(Ecology(2.0, 0.0, 0.0, 0.01), 0.0);
  // O + B = 0: infinite when T*H > 0 (nothing holds the routing together),
  // undefined (NaN, never 0) when H = 0 too.
  EXPECT_TRUE(std::isinf(Ecology(2.0, 0.1, 0.0, 0.0)));
  EXPECT_GT(Ecology(2.0, 0.1, 0.0, 0.0), 0.0);
  EXPECT_TRUE(std::isnan(Ecology(2.0, 0.0, 0.0, 0.0)));
}

TEST(MetricsTest, EvalAccumulatorHandComputed) {
  // Two experts, four test images, classes {0, 1}.
  MoEOutput out;
  out.gate.weights = torch::tensor({{0.9, 0.1}, {0.2, 0.8}, {0.6, 0.4}, {0.5, 0.5}});
  out.gate.probs = out.gate.weights;
  out.gate.log_probs = out.gate.weights.log();
  // Expert 0 predicts class 0 always; expert 1 predicts class 1 always.
  out.expert_logits = torch::stack({torch::tensor({{2.0, 0.0}, {2.0, 0.0}, {2.0, 0.0}, {2.0, 0.0}}),
                                    torch::tensor({{0.0, 2.0}, {0.0, 2.0}, {0.0, 2.0}, {0.0, 2.0}})});
  out.logits = (out.gate.weights.t().unsqueeze(2) * out.expert_logits).sum(0);
  auto labels = torch::tensor({0, 1, 1, 0}, torch::kLong);

  // Two batches: the accumulator must sum them, not average batch means.
  auto slice = [&](int64_t begin, int64_t end) {
    MoEOutput part;
    part.gate.weights = out.gate.weights.slice(0, begin, end);
    part.gate.probs = part.gate.weights;
    part.gate.log_probs = part.gate.weights.log();
    part.expert_logits = out.expert_logits.slice(1, begin, end);
    part.logits = out.logits.slice(0, begin, end);
    return part;
  };
  EvalAccumulator whole(2, torch::kCPU);
  whole.Add(slice(0, 1), labels.slice(0, 0, 1));
  whole.Add(slice(1, 4), labels.slice(0, 1, 4));
  moe4::v1::EpochMetrics m;
  whole.Fill(&m);

  // Mixture logits: [1.8,0.2] ok, [0.4,1.6] ok, [1.2,0.8] wrong (label 1), [1,1] tie -> 0 ok.
  EXPECT_NEAR(m.test_accuracy(), 0.75, 1e-9);
  const double loss =
      (std::log(1 + std::exp(-1.6)) + std::log(1 + std::exp(-1.2)) + std::log(1 + std::exp(0.4)) + std::log(2.0)) / 4;
  EXPECT_NEAR(m.test_loss(), loss, 1e-5);
  ASSERT_EQ(m.gate_mean_size(), 2);
  EXPECT_NEAR(m.gate_mean(0), (0.9 + 0.2 + 0.6 + 0.5) / 4, 1e-6);
  EXPECT_NEAR(m.gate_mean(1), (0.1 + 0.8 + 0.4 + 0.5) / 4, 1e-6);
  // Top-1: expert 0, 1, 0, tie -> 0 (argmax takes the first).
  EXPECT_NEAR(m.routing_share(0), 0.75, 1e-9);
  EXPECT_NEAR(m.routing_share(1), 0.25, 1e-9);
  EXPECT_NEAR(m.expert_accuracy(0), 0.5, 1e-9);
  EXPECT_NEAR(m.expert_accuracy(1), 0.5, 1e-9);
  auto h = [](double p) { return -(p * std::log(p) + (1 - p) * std::log(1 - p)) / std::log(2.0); };
  EXPECT_NEAR(m.routing_entropy(), (h(0.9) + h(0.2) + h(0.6) + 1.0) / 4, 1e-5);
  EXPECT_EQ(m.dead_experts(), 0);
  // Per class: expert 0 always says 0, expert 1 always says 1.
  EXPECT_EQ(m.num_classes(), 2);
  ASSERT_EQ(m.expert_class_accuracy_size(), 4);
  EXPECT_NEAR(m.expert_class_accuracy(0), 1.0, 1e-12);  // expert 0, class 0
  EXPECT_NEAR(m.expert_class_accuracy(1), 0.0, 1e-12);
  EXPECT_NEAR(m.expert_class_accuracy(2), 0.0, 1e-12);
  EXPECT_NEAR(m.expert_class_accuracy(3), 1.0, 1e-12);  // expert 1, class 1
  // Routed (top-1, label): (0,0) (1,1) (0,1) (0,0): joint [[2,1],[0,1]] / 4,
  // p(expert) = (3/4, 1/4), p(class) = (1/2, 1/2), H(class) = 1 bit.
  const double mi = 0.5 * std::log2(0.5 / (0.75 * 0.5)) + 0.25 * std::log2(0.25 / (0.75 * 0.5)) +
                    0.25 * std::log2(0.25 / (0.25 * 0.5));
  ASSERT_TRUE(m.has_specialisation_bits());
  EXPECT_NEAR(m.specialisation_bits(), mi, 1e-12);
  EXPECT_NEAR(m.specialisation_normalised(), mi, 1e-12);
}

TEST(MetricsTest, NothingEvaluatedLeavesTheSpecialisationUnset) {
  EvalAccumulator none(3, torch::kCPU);
  moe4::v1::EpochMetrics m;
  none.Fill(&m);
  EXPECT_EQ(m.num_classes(), 0);
  EXPECT_EQ(m.expert_class_accuracy_size(), 0);
  EXPECT_FALSE(m.has_specialisation_bits());
  EXPECT_FALSE(m.has_specialisation_normalised());
  EXPECT_EQ(m.routing_share_size(), 3);
}

TEST(MetricsTest, SpecialisationIsTheMutualInformationOfClassAndExpert) {
  struct Case {
    const char* name;
    int k, c;
    std::vector<double> joint;  // row-major K x C
    double bits, entropy, normalised;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // [[3,1],[1,3]] / 8: 2 * 3/8 log2(3/2) + 2 * 1/8 log2(1/2).
  const double partial = 0.75 * std::log2(1.5) - 0.25;
  const Case cases[] = {
      // The routing ignores the class: p(k,c) = p(k) p(c).
      {"independent", 2, 2, {10, 10, 5, 5}, 0.0, 1.0, 0.0},
      {"independent, uneven classes", 3, 2, {2, 6, 1, 3, 3, 9}, 0.0, -(0.25 * std::log2(0.25) + 0.75 * std::log2(0.75)),
       0.0},
      // Each class to its own expert: I = H(class) (here 1.5 bits).
      {"one expert per class", 3, 3, {4, 0, 0, 0, 2, 0, 0, 0, 2}, 1.5, 1.5, 1.0},
      // Fewer experts than classes: each expert takes two of four classes.
      {"two classes per expert", 2, 4, {5, 5, 0, 0, 0, 0, 5, 5}, 1.0, 2.0, 0.5},
      {"partial", 2, 2, {3, 1, 1, 3}, partial, 1.0, partial},
      // One class: nothing to explain, the normalised figure is undefined.
      {"one class", 2, 1, {3, 5}, 0.0, 0.0, nan},
      {"empty", 2, 2, {0, 0, 0, 0}, nan, nan, nan},
  };
  auto same = [](double a, double b) { return std::isnan(a) ? std::isnan(b) : std::abs(a - b) < 1e-12; };
  for (const Case& c : cases) {
    const Specialisation s = RoutingSpecialisation(c.joint, c.k, c.c);
    EXPECT_TRUE(same(c.bits, s.bits)) << c.name << ": bits " << s.bits << ", want " << c.bits;
    EXPECT_TRUE(same(c.entropy, s.class_entropy_bits)) << c.name << ": H " << s.class_entropy_bits;
    EXPECT_TRUE(same(c.normalised, s.normalised)) << c.name << ": normalised " << s.normalised;
  }
}

TEST(MetricsTest, TrainAccumulatorUsesArgmaxOfMixedTargets) {
  TrainAccumulator acc(torch::kCPU);
  auto logits = torch::tensor({{3.0, 0.0}, {0.0, 3.0}});
  auto a = torch::tensor({0, 0}, torch::kLong);
  auto b = torch::tensor({1, 1}, torch::kLong);
  acc.Add(logits, torch::tensor(2.0), a, b, 0.7);  // target = a: 1 of 2 right
  acc.Add(logits, torch::tensor(4.0), a, b, 0.2);  // target = b: 1 of 2 right
  EXPECT_NEAR(acc.accuracy(), 0.5, 1e-12);
  EXPECT_NEAR(acc.loss(), 3.0, 1e-12);
  EXPECT_EQ(acc.count(), 4);
}

TEST(MetricsTest, PeakMemoryIsPositiveOnCpu) { EXPECT_GT(PeakMemoryBytes(torch::kCPU), 1 << 20); }

}  // namespace
}  // namespace moe4::worker
