#include "worker/moe/gate.h"

#include <gtest/gtest.h>

#include "worker/train/losses.h"

namespace moe4::worker {
namespace {

GateOptions Options(double temperature = 2.0, double noise = 0.1, int top_k = 0) {
  GateOptions o;
  o.in_channels = 3;
  o.num_experts = 4;
  o.temperature = temperature;
  o.noise_std = noise;
  o.top_k = top_k;
  return o;
}

TEST(GateTest, TemperatureIsClampedToHalfAndFive) {
  EXPECT_DOUBLE_EQ(Gate(Options(10.0))->temperature().item<double>(), 5.0);
  EXPECT_DOUBLE_EQ(Gate(Options(0.1))->temperature().item<double>(), 0.5);
  Gate gate(Options(2.0));
  EXPECT_DOUBLE_EQ(gate->temperature().item<double>(), 2.0);
  {
    torch::NoGradGuard no_grad;
    gate->temperature_parameter().fill_(100.0);
  }
  EXPECT_DOUBLE_EQ(gate->temperature().item<double>(), 5.0);  // clamped in use
  gate->ClampTemperature();                                   // and projected back
  EXPECT_DOUBLE_EQ(gate->temperature_parameter().item<double>(), 5.0);
}

TEST(GateTest, WeightsAreADistributionOverExperts) {
  torch::manual_seed(1);
  Gate gate(Options());
  gate->train();
  auto out = gate->forward(torch::randn({6, 3, 32, 32}));
  ASSERT_EQ(out.weights.sizes(), (std::vector<int64_t>{6, 4}));
  EXPECT_TRUE(torch::allclose(out.weights.sum(1), torch::ones({6}), 1e-5, 1e-6));
  EXPECT_TRUE((out.weights >= 0).all().item<bool>());
  EXPECT_TRUE(torch::allclose(out.log_probs.exp(), out.probs, 1e-5, 1e-6));
}

TEST(GateTest, WorksOnSingleChannel28x28) {
  GateOptions o = Options();
  o.in_channels = 1;
  Gate gate(o);
  auto out = gate->forward(torch::randn({2, 1, 28, 28}));
  EXPECT_EQ(out.weights.size(1), 4);
}

TEST(GateTest, TopKKeepsKLargestRenormalised) {
  auto probs = torch::tensor({{0.1, 0.4, 0.3, 0.2}, {0.5, 0.05, 0.05, 0.4}});
  auto w = TopKRenormalise(probs, 2);
  auto expected = torch::tensor({{0.0, 4.0 / 7, 3.0 / 7, 0.0}, {5.0 / 9, 0.0, 0.0, 4.0 / 9}});
  EXPECT_TRUE(torch::allclose(w, expected, 1e-6, 1e-7)) << w;
  EXPECT_TRUE(torch::equal(TopKRenormalise(probs, 0), probs));
  EXPECT_TRUE(torch::equal(TopKRenormalise(probs, 4), probs));

  Gate gate(Options(2.0, 0.1, 1));
  gate->eval();
  auto out = gate->forward(torch::randn({5, 3, 32, 32}));
  EXPECT_TRUE(torch::equal((out.weights > 0).sum(1), torch::ones({5}, torch::kLong)));
  EXPECT_TRUE(torch::allclose(out.weights.sum(1), torch::ones({5})));
}

TEST(GateTest, NoiseOnlyInTraining) {
  auto x = torch::randn({4, 3, 32, 32});
  torch::manual_seed(3);
  Gate noisy(Options(2.0, 1.0));
  torch::manual_seed(3);
  Gate quiet(Options(2.0, 0.0));  // same weights, no noise

  noisy->eval();
  auto a = noisy->forward(x).probs;
  auto b = noisy->forward(x).probs;
  EXPECT_TRUE(torch::equal(a, b)) << "eval must be deterministic";

  noisy->train();
  quiet->train();
  torch::manual_seed(9);
  auto with_noise = noisy->forward(x).probs;
  torch::manual_seed(9);
  auto without_noise = quiet->forward(x).probs;
  EXPECT_FALSE(torch::allclose(with_noise, without_noise, 1e-4, 1e-5));
}

// The published code computed the load-balance term on detached weights, so
// it never reached the gate. Ours must.
TEST(GateTest, LoadBalanceGradientReachesTheGate) {
  torch::manual_seed(5);
  Gate gate(Options(2.0, 0.0));
  gate->train();
  auto out = gate->forward(torch::randn({16, 3, 32, 32}));
  auto lb = LoadBalanceLoss(out.probs);
  ASSERT_TRUE(lb.requires_grad());
  lb.backward();
  double grad_norm = 0;
  for (const auto& p : gate->parameters()) {
    if (p.grad().defined()) grad_norm += p.grad().abs().sum().item<double>();
  }
  EXPECT_GT(grad_norm, 1e-8) << "load-balance loss must train the gate";

  // The detached version has no path to the parameters at all.
  auto detached = LoadBalanceLoss(out.probs.detach());
  EXPECT_FALSE(detached.requires_grad());
}

TEST(GateTest, LoadBalanceGradientPushesOverusedExpertDown) {
  // Three of four samples route to expert 0: descending the LB loss must lower
  // expert 0's probability.
  auto logits = torch::tensor({{2.0, 0.0}, {2.0, 0.5}, {1.0, 0.0}, {0.0, 1.0}}).set_requires_grad(true);
  auto lb = LoadBalanceLoss(torch::softmax(logits, 1));
  lb.backward();
  auto g = logits.grad();
  EXPECT_GT(g.index({0, 0}).item<double>(), 0);  // gradient > 0: a step lowers logit 0
  EXPECT_LT(g.index({0, 1}).item<double>(), 0);
}

}  // namespace
}  // namespace moe4::worker
