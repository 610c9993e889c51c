#include "worker/train/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

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
