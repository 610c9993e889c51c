// Family-specific checks for AirNet, AirNext, BayesianNet-1, ConvNeXt,
// DPN68/107/131, DarkNet, Diffuser, EfficientNet and GoogLeNet beyond the
// registry-wide suite in models_test.cc: reference-size parameter counts, width scaling,
// train/eval behaviour, the auxiliary-loss hook, and a training step of each
// inside a K=4 mixture.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "test_util.h"
#include "worker/data/loader.h"
#include "worker/models/airnext.h"
#include "worker/models/auxiliary_loss.h"
#include "worker/models/bayesian_net.h"
#include "worker/models/diffuser.h"
#include "worker/models/efficientnet.h"
#include "worker/models/registry.h"
#include "worker/moe/ensemble.h"
#include "worker/train/losses.h"
#include "worker/train/recipe.h"
#include "worker/train/trainer.h"

namespace moe4::worker {
namespace {

const std::vector<std::string> kFamilies = {"AirNext", "BayesianNet-1", "ConvNeXt", "DPN107",       "DPN131",
                                            "DPN68",   "DarkNet",       "Diffuser", "EfficientNet", "GoogLeNet"};

int64_t Count(const torch::nn::AnyModule& m) { return CountParameters(*m.ptr()); }

ExpertOptions Cifar(double width) {
  ExpertOptions o;
  o.in_channels = 3;
  o.image_size = 32;
  o.num_classes = 10;
  o.width = width;
  return o;
}

std::string TestName(const std::string& family) {
  std::string id;
  for (char c : family) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return id;
}

// Parameters at width 1.0 (32x32x3, 10 classes). Where a published count
// exists the implementation reproduces it exactly once the 1000-class head is
// swapped for 10 classes and the 32-pixel stem adaptation is accounted for
// (noted per row); the ranges leave a few percent of slack.
struct ParameterRange {
  std::string family;
  double min_millions;
  double max_millions;
};

// Names the case in test listings (ctest shows "# GetParam() = ..."), which
// would otherwise print the struct's raw bytes, pointers included.
void PrintTo(const ParameterRange& r, std::ostream* os) {
  *os << r.family << " [" << r.min_millions << "M, " << r.max_millions << "M]";
}

class FamiliesAParameterTest : public ::testing::TestWithParam<ParameterRange> {};

TEST_P(FamiliesAParameterTest, ReferenceSizeAndWidthScaling) {
  const auto& range = GetParam();
  torch::manual_seed(0);
  const int64_t full = Count(BuiltinRegistry().Create(range.family, Cifar(1.0)));
  const int64_t half = Count(BuiltinRegistry().Create(range.family, Cifar(0.5)));
  const int64_t tiny = Count(BuiltinRegistry().Create(range.family, Cifar(0.125)));
  std::cout << range.family << ": " << full << " parameters at width 1.0, " << half << " at 0.5, " << tiny
            << " at 0.125\n";
  EXPECT_GE(full, range.min_millions * 1e6) << range.family;
  EXPECT_LE(full, range.max_millions * 1e6) << range.family;
  EXPECT_LT(half, full / 2) << range.family;
  EXPECT_LT(tiny, half / 2) << range.family;
}

INSTANTIATE_TEST_SUITE_P(
    FamiliesA, FamiliesAParameterTest,
    ::testing::Values(
        // No published reference at this depth (the paper's smallest is AirNet-50):
        // ResNet-18-style units, 11,173,962, plus four air gates, 294,912: 11,468,874.
        ParameterRange{"AirNet", 11.4, 11.55},
        // AirNeXt-50 32x4d r2, 27,604,296 (pytorchcv): 25,575,786.
        ParameterRange{"AirNext", 25.0, 26.2},
        // mu and rho for every Bayesian weight: 2,427,540.
        ParameterRange{"BayesianNet-1", 2.3, 2.6},
        // ConvNeXt-T, 28,589,128 (torchvision): 27,827,818; 27,824,362 here (2x2 patch stem at 32 px).
        ParameterRange{"ConvNeXt", 27.0, 28.5},
        // DPN107, 86,917,800 (timm): 84,255,690; 84,240,330 here (3x3 stem at 32 px).
        ParameterRange{"DPN107", 82.0, 86.0},
        // DPN131, 79,254,504 (timm): 76,592,394; 76,577,034 here (3x3 stem at 32 px).
        ParameterRange{"DPN131", 74.5, 78.5},
        // DPN68, 12,611,602 (timm): 11,786,932.
        ParameterRange{"DPN68", 11.4, 12.2},
        // Darknet-19, 20,842,376 (pytorchcv): 19,827,626.
        ParameterRange{"DarkNet", 19.2, 20.4},
        // No published reference: 2,086,410.
        ParameterRange{"Diffuser", 1.8, 2.4},
        // EfficientNet-B0, 5,288,548 (torchvision): 4,020,358.
        ParameterRange{"EfficientNet", 3.9, 4.15},
        // torchvision GoogLeNet, 6,624,904, has 3x3 where the paper has 5x5
        // (+380,928): 5,991,082; 5,983,402 here (3x3 stem at 32 px).
        ParameterRange{"GoogLeNet", 5.8, 6.2}),
    [](const auto& info) { return TestName(info.param.family); });

TEST(FamiliesATest, AllTenAreRegistered) {
  for (const auto& id : kFamilies) EXPECT_TRUE(BuiltinRegistry().Contains(id)) << id;
}

// Beyond the 28 and 32 pixels of models_test.cc: a larger input keeps every
// reference downsampling event.
TEST(FamiliesATest, LargerInputsWork) {
  for (const auto& family : kFamilies) {
    torch::manual_seed(0);
    ExpertOptions o = Cifar(0.125);
    o.image_size = 64;
    o.num_classes = 3;
    auto expert = BuiltinRegistry().Create(family, o);
    expert.ptr()->eval();
    torch::NoGradGuard no_grad;
    auto y = expert.forward(torch::randn({2, 3, 64, 64}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 3})) << family;
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << family;
  }
}

// AirNet is a residual network with attention, never ResNet itself: its
// units carry air gates (both units of stage 1, the second of stages 2 and 3).
TEST(FamiliesATest, AirNetCarriesAirGatesAndIsNotResNet) {
  auto airnet = BuiltinRegistry().Create("AirNet", Cifar(1.0));
  const int64_t resnet = Count(BuiltinRegistry().Create("ResNet", Cifar(1.0)));
  EXPECT_EQ(Count(airnet), 11468874);
  EXPECT_NE(Count(airnet), resnet);
  int gates = 0;
  for (const auto& item : airnet.ptr()->named_modules()) {
    const std::string& name = item.key();
    if (name.size() >= 4 && name.compare(name.size() - 4, 4, ".air") == 0) ++gates;
  }
  EXPECT_EQ(gates, 4);

  // The gate scales the residual branch: in eval mode it lies in (0, 1).
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  AirBlock gate(64, 64, /*groups=*/1, /*ratio=*/2);
  gate->eval();
  const auto g = gate->forward(torch::randn({2, 64, 15, 15}));
  EXPECT_EQ(g.sizes(), (std::vector<int64_t>{2, 64, 15, 15}));
  EXPECT_TRUE((g > 0).all().item<bool>() && (g < 1).all().item<bool>());
}

TEST(FamiliesATest, EfficientNetCompoundScalingDepth) {
  EXPECT_DOUBLE_EQ(EfficientNetDepthMultiplier(1.0), 1.0);   // B0
  EXPECT_NEAR(EfficientNetDepthMultiplier(1.1), 1.2, 0.01);  // B2: w 1.1, d 1.2
  EXPECT_NEAR(EfficientNetDepthMultiplier(1.2), 1.4, 0.03);  // B3: w 1.2, d 1.4
  EXPECT_LT(EfficientNetDepthMultiplier(0.5), 0.5);
}

TEST(FamiliesATest, BayesianNetSamplesInTrainingAndUsesTheMeanInEval) {
  torch::manual_seed(0);
  BayesianNet net(Cifar(0.125));
  auto x = torch::randn({4, 3, 32, 32});
  net->train();
  auto a = net->forward(x);
  auto b = net->forward(x);
  EXPECT_FALSE(torch::allclose(a, b)) << "training forwards should draw different weights";
  net->eval();
  torch::NoGradGuard no_grad;
  auto c = net->forward(x);
  auto d = net->forward(x);
  EXPECT_TRUE(torch::equal(c, d)) << "eval uses the mean weights";
}

TEST(FamiliesATest, BayesianNetKlIsPositiveAndGrowsWithSigma) {
  torch::manual_seed(0);
  BayesianNet net(Cifar(0.125));
  const double kl = net->auxiliary_loss().item<double>();
  EXPECT_GT(kl, 0);
  {
    torch::NoGradGuard no_grad;
    for (auto& item : net->named_parameters()) {
      if (item.key().find("rho") != std::string::npos) item.value().fill_(-1.0);  // sigma 0.31 > prior 0.1
    }
  }
  EXPECT_GT(net->auxiliary_loss().item<double>(), kl);
}

TEST(FamiliesATest, AuxiliaryLossReachesRhoThroughTheMixture) {
  torch::manual_seed(0);
  ExpertOptions o = Cifar(0.125);
  GateOptions g;
  g.in_channels = 3;
  MixtureOfExperts moe(BuiltinRegistry(), std::vector<std::string>{"AirNet", "BayesianNet-1"}, o, g);
  moe->train();
  auto out = moe->forward(torch::randn({2, 3, 32, 32}));
  ASSERT_TRUE(out.auxiliary_loss.defined());
  EXPECT_GT(out.auxiliary_loss.item<double>(), 0);
  out.auxiliary_loss.backward();  // the auxiliary term alone
  int rho_with_grad = 0;
  for (const auto& item : moe->named_parameters()) {
    if (item.key().find("rho") == std::string::npos) continue;
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    if (item.value().grad().abs().sum().item<double>() > 0) ++rho_with_grad;
  }
  EXPECT_GT(rho_with_grad, 0);

  // A mixture without a source reports an exact zero.
  MixtureOfExperts plain(BuiltinRegistry(), std::vector<std::string>{"AirNet", "DarkNet"}, o, g);
  EXPECT_EQ(plain->forward(torch::randn({2, 3, 32, 32})).auxiliary_loss.item<double>(), 0.0);
}

// A fake expert whose auxiliary term is NaN: if the trainer adds the term to
// the loss, its non-finite-loss guard must fail the job.
class PoisonedAuxiliaryImpl : public torch::nn::Module, public AuxiliaryLossSource {
 public:
  explicit PoisonedAuxiliaryImpl(const ExpertOptions& o) {
    fc_ = register_module("fc", torch::nn::Linear(o.in_channels, o.num_classes));
  }
  torch::Tensor forward(const torch::Tensor& x) { return fc_->forward(x.mean({2, 3})); }
  torch::Tensor auxiliary_loss() override { return fc_->weight.sum() * std::nan(""); }

 private:
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(PoisonedAuxiliary);

TEST(FamiliesATest, TrainerAddsTheAuxiliaryLoss) {
  FamilyRegistry registry;
  RegisterBuiltinFamilies(registry);
  registry.Register("Poisoned", [](const ExpertOptions& o) { return torch::nn::AnyModule(PoisonedAuxiliary(o)); });
  auto job = testing::TinyJob({"AirNet", "Poisoned"}, 1, 64, 32);
  auto data = LoadDataset(job.dataset(), "");
  ASSERT_TRUE(data.ok()) << data.status();
  TrainerOptions options;
  options.threads = 2;
  Trainer trainer(registry, job, *data, options);
  auto outcome = trainer.Run({});
  EXPECT_EQ(outcome.kind, TrainOutcome::Kind::kFailed);
  EXPECT_NE(outcome.reason.find("non-finite training loss"), std::string::npos) << outcome.reason;
}

TEST(FamiliesATest, BayesianNetTrainsThroughTheTrainer) {
  auto job = testing::TinyJob({"BayesianNet-1", "Diffuser"}, 1, 64, 32);
  auto data = LoadDataset(job.dataset(), "");
  ASSERT_TRUE(data.ok()) << data.status();
  TrainerOptions options;
  options.threads = 2;
  Trainer trainer(BuiltinRegistry(), job, *data, options);
  auto outcome = trainer.Run({});
  EXPECT_EQ(outcome.kind, TrainOutcome::Kind::kCompleted) << outcome.reason;
}

TEST(FamiliesATest, DiffuserNoisesOnlyInTraining) {
  torch::manual_seed(0);
  Diffuser net(Cifar(0.125));
  auto x = torch::randn({4, 3, 32, 32});
  net->eval();
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(net->forward(x), net->forward(x)));
  }
  // GroupNorm and no dropout: the only randomness in training is the noising.
  net->train();
  EXPECT_FALSE(torch::allclose(net->forward(x), net->forward(x)));
  // The schedule: abar decreasing from ~1, still mostly signal at the largest training step.
  const auto& abar = net->alpha_bar();
  ASSERT_EQ(abar.size(0), kDiffusionSteps);
  EXPECT_GT(abar[0].item<double>(), 0.999);
  EXPECT_GT(abar[kDiffuserMaxTrainStep - 1].item<double>(), 0.5);
  EXPECT_LT(abar[kDiffusionSteps - 1].item<double>(), 1e-3);
}

// The bar: each family trains inside a K=4 mixture with three others.
class FamiliesAMixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FamiliesAMixtureTest, OneOptimizerStepInAFourExpertMixture) {
  const std::string& family = GetParam();
  // The family and the next three of this batch, cyclically: every family
  // appears in four different mixtures across the suite.
  std::vector<std::string> families;
  const auto it = std::find(kFamilies.begin(), kFamilies.end(), family);
  const size_t first = static_cast<size_t>(it - kFamilies.begin());
  for (size_t i = 0; i < 4; ++i) families.push_back(kFamilies[(first + i) % kFamilies.size()]);
  torch::manual_seed(1);
  ExpertOptions o;
  o.in_channels = 1;
  o.image_size = 28;
  o.num_classes = 10;
  o.width = 0.125;
  GateOptions g;
  g.in_channels = 1;
  MixtureOfExperts moe(BuiltinRegistry(), families, o, g);
  moe->train();
  torch::optim::AdamW optimizer(moe->parameters(), torch::optim::AdamWOptions(1e-3));
  const auto recipe = DefaultRecipe();
  std::vector<torch::Tensor> snapshot;
  for (const auto& p : moe->parameters()) snapshot.push_back(p.detach().clone());
  auto x = torch::randn({4, 1, 28, 28});
  auto labels = torch::tensor({0, 3, 6, 9}, torch::kLong);
  for (int step = 0; step < 2; ++step) {
    optimizer.zero_grad();
    auto out = moe->forward(x);
    auto loss = ComputeLoss(out, labels, labels, 1.0, recipe);
    auto total = loss.total + out.auxiliary_loss / 50000.0;
    ASSERT_TRUE(std::isfinite(total.item<double>())) << family;
    total.backward();
    optimizer.step();
  }
  int changed = 0;
  const auto params = moe->parameters();
  for (size_t i = 0; i < params.size(); ++i) changed += torch::equal(params[i], snapshot[i]) ? 0 : 1;
  EXPECT_GT(changed, static_cast<int>(params.size()) / 2) << family;
  moe->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(moe->forward(x).logits.sizes(), (std::vector<int64_t>{4, 10}));
}

INSTANTIATE_TEST_SUITE_P(FamiliesA, FamiliesAMixtureTest, ::testing::ValuesIn(kFamilies),
                         [](const auto& info) { return TestName(info.param); });

}  // namespace
}  // namespace moe4::worker
