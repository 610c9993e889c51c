#include "worker/train/losses.h"

#include <gtest/gtest.h>

#include <cmath>

namespace moe4::worker {
namespace {

TEST(LossesTest, MixupCrossEntropyMatchesHandComputation) {
  // p = [0.25, 0.75]; smoothing 0.1; lam 0.3 between label 1 and label 0.
  auto logits = torch::tensor({{0.0, std::log(3.0)}});
  auto a = torch::tensor({1}, torch::kLong);
  auto b = torch::tensor({0}, torch::kLong);
  const double smooth = -(std::log(0.25) + std::log(0.75)) / 2;
  const double ce1 = 0.9 * -std::log(0.75) + 0.1 * smooth;
  const double ce0 = 0.9 * -std::log(0.25) + 0.1 * smooth;
  EXPECT_NEAR(MixupCrossEntropy(logits, a, a, 1.0, 0.1).item<double>(), ce1, 1e-6);
  EXPECT_NEAR(MixupCrossEntropy(logits, a, b, 0.3, 0.1).item<double>(), 0.3 * ce1 + 0.7 * ce0, 1e-6);
  // No smoothing, no mixup: plain cross-entropy.
  EXPECT_NEAR(MixupCrossEntropy(logits, b, b, 1.0, 0.0).item<double>(), -std::log(0.25), 1e-6);
}

TEST(LossesTest, MixupCrossEntropyIsPerExpertOnStackedLogits) {
  auto logits = torch::randn({3, 5, 4});  // [K, B, C]
  auto y = torch::randint(0, 4, {5}, torch::kLong);
  auto stacked = MixupCrossEntropy(logits, y, y, 1.0, 0.1);
  ASSERT_EQ(stacked.sizes(), (std::vector<int64_t>{3, 5}));
  for (int k = 0; k < 3; ++k) {
    EXPECT_TRUE(torch::allclose(stacked[k], MixupCrossEntropy(logits[k], y, y, 1.0, 0.1)));
  }
}

TEST(LossesTest, LoadBalanceHandComputed) {
  // Top-1 shares f = [1, 0]; mean probabilities P = [0.65, 0.35]; K = 2.
  auto probs = torch::tensor({{0.7, 0.3}, {0.6, 0.4}});
  EXPECT_NEAR(LoadBalanceLoss(probs).item<double>(), 2 * 0.65, 1e-6);
  // Perfect balance gives 1.
  auto balanced = torch::tensor({{0.9, 0.1}, {0.1, 0.9}});
  EXPECT_NEAR(LoadBalanceLoss(balanced).item<double>(), 1.0, 1e-6);
}

TEST(LossesTest, NormalisedEntropyHandComputed) {
  auto probs = torch::tensor({{0.25, 0.25, 0.25, 0.25}, {1.0, 0.0, 0.0, 0.0}, {0.5, 0.5, 0.0, 0.0}});
  auto h = NormalisedEntropy(probs);
  EXPECT_NEAR(h[0].item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(h[1].item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(h[2].item<double>(), 0.5, 1e-6);
}

TEST(LossesTest, OracleTeachesTheBestExpertPerSample) {
  // Sample 0: expert 1 is right; sample 1: expert 0 is right.
  auto expert_logits = torch::tensor({{{0.0, 5.0}, {0.0, 5.0}},    // expert 0 says class 1
                                      {{5.0, 0.0}, {5.0, 0.0}}});  // expert 1 says class 0
  auto labels = torch::tensor({0, 1}, torch::kLong);
  auto log_probs = torch::log(torch::tensor({{0.2, 0.8}, {0.6, 0.4}}));
  const double expected = -(std::log(0.8) + std::log(0.6)) / 2;
  EXPECT_NEAR(OracleLoss(log_probs, expert_logits, labels, labels, 1.0, 0.0).item<double>(), expected, 1e-6);
}

TEST(LossesTest, ComputeLossAddsWeightedTerms) {
  MoEOutput out;
  out.logits = torch::tensor({{0.0, std::log(3.0)}});
  out.expert_logits = out.logits.unsqueeze(0).repeat({2, 1, 1});
  out.gate.probs = torch::tensor({{0.7, 0.3}});
  out.gate.log_probs = out.gate.probs.log();
  out.gate.weights = out.gate.probs;
  auto y = torch::tensor({1}, torch::kLong);
  moe4::v1::Recipe r;
  r.set_label_smoothing(0.0);
  const double ce = -std::log(0.75);
  EXPECT_NEAR(ComputeLoss(out, y, y, 1.0, r).total.item<double>(), ce, 1e-6);
  r.set_load_balance_weight(0.5);  // LB = 2 * (1 * 0.7) = 1.4
  EXPECT_NEAR(ComputeLoss(out, y, y, 1.0, r).total.item<double>(), ce + 0.7, 1e-6);
  r.set_entropy_weight(1.0);
  const double h = -(0.7 * std::log(0.7) + 0.3 * std::log(0.3)) / std::log(2.0);
  EXPECT_NEAR(ComputeLoss(out, y, y, 1.0, r).total.item<double>(), ce + 0.7 - h, 1e-6);
}

}  // namespace
}  // namespace moe4::worker
