#include "common/campaign_spec.h"

#include <gtest/gtest.h>

#include <string>

namespace moe4 {
namespace {

constexpr const char* kValid = R"(name: fashion-moe4
families: [AirNet, AlexNet, BagNet, DenseNet, ShuffleNet]
k: 3
sampler: stratified
budget: 6
seed: 7
dataset: {name: fashion-mnist, train_subset: 4000, test_subset: 1000}
recipe:
  epochs: 2
  lr: 0.002
  width: 0.25
)";

TEST(CampaignSpecTest, ParsesAndResolvesDefaults) {
  auto spec = ParseCampaignSpec(kValid);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "fashion-moe4");
  EXPECT_EQ(spec->pool, (std::vector<std::string>{"AirNet", "AlexNet", "BagNet", "DenseNet", "ShuffleNet"}));
  EXPECT_EQ(spec->k, 3);
  EXPECT_EQ(spec->budget, 6u);
  EXPECT_EQ(spec->seed, 7u);
  EXPECT_EQ(spec->sampler, SamplerKind::kStratified);
  EXPECT_EQ(spec->dataset.name(), "fashion-mnist");
  EXPECT_EQ(spec->dataset.train_subset(), 4000);
  EXPECT_EQ(spec->recipe.epochs(), 2);
  EXPECT_DOUBLE_EQ(spec->recipe.lr(), 0.002);
  EXPECT_DOUBLE_EQ(spec->recipe.width(), 0.25);
  // Design defaults for what the spec leaves out.
  EXPECT_DOUBLE_EQ(spec->recipe.label_smoothing(), 0.1);
  EXPECT_DOUBLE_EQ(spec->recipe.mixup_alpha(), 0.2);
  EXPECT_DOUBLE_EQ(spec->recipe.load_balance_weight(), 0.01);
  EXPECT_DOUBLE_EQ(spec->recipe.gate_temperature(), 2.0);
  EXPECT_DOUBLE_EQ(spec->recipe.gate_lr_scale(), 2.0);
  EXPECT_DOUBLE_EQ(spec->recipe.weight_decay(), 5e-4);
  EXPECT_EQ(spec->recipe.batch_size(), 128);
  EXPECT_EQ(spec->max_attempts, 3);
  // Warm-up (5 by design) is shortened to leave the last epoch to the cosine.
  EXPECT_EQ(spec->recipe.warmup_epochs(), 1);
}

TEST(CampaignSpecTest, DefaultPoolIsTheCatalogueAndExcludeRemoves) {
  auto spec = ParseCampaignSpec("name: all\nk: 4\nbudget: 10\nexclude: [VGG, AlexNet]\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->pool.size(), 27u);
  EXPECT_EQ(std::find(spec->pool.begin(), spec->pool.end(), "VGG"), spec->pool.end());
  EXPECT_TRUE(std::is_sorted(spec->pool.begin(), spec->pool.end()));
}

TEST(CampaignSpecTest, AcceptsSyntheticOptions) {
  auto spec = ParseCampaignSpec("name: s\nk: 2\nbudget: 1\ndataset: {name: \"synthetic:channels=1,size=28,classes=4\"}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->dataset.name(), "synthetic:channels=1,size=28,classes=4");
}

TEST(CampaignSpecTest, ExhaustiveResolvesTheBudget) {
  auto spec = ParseCampaignSpec("name: ex\nfamilies: [AirNet, AlexNet, BagNet, VGG]\nk: 2\nsampler: exhaustive\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->budget, 6u);
}

struct BadSpec {
  std::string yaml;
  std::string expected;  // substring of the error
};

class CampaignSpecErrorTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(CampaignSpecErrorTest, NamesFieldAndReason) {
  auto spec = ParseCampaignSpec(GetParam().yaml);
  ASSERT_FALSE(spec.ok()) << "accepted: " << GetParam().yaml;
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find(GetParam().expected), std::string::npos)
      << "error was: " << spec.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, CampaignSpecErrorTest,
    ::testing::Values(
        BadSpec{"name: x\nk: 2\nbudget: 1\nfamilies: [AirNet, AlexNet, BagNet, Resnet]\n",
                "line 4: families[3]: unknown family \"Resnet\" (did you mean \"ResNet\"?)"},
        BadSpec{"name: x\nk: 2\nbudget: 1\nfamilies: [AirNet, AlexNet, AirNet]\n",
                "families[2]: duplicate family \"AirNet\" (also families[0])"},
        BadSpec{"name: x\nk: 5\nbudget: 1\nfamilies: [AirNet, AlexNet, BagNet]\n",
                "k: 5 is larger than the pool (3 families)"},
        BadSpec{"name: x\nk: 0\nbudget: 1\n", "k: 0 is out of range [1, 8]"},
        BadSpec{"name: x\nk: 4\nbudget: 30000\n", "budget: 30000 exceeds C(29,4) = 23751 combinations"},
        BadSpec{"name: x\nk: 4\nbudget: 0\n", "budget: 0 is out of range"},
        BadSpec{"name: x\nk: 4\n", "budget: required"},
        BadSpec{"k: 4\nbudget: 3\n", "name: required"},
        BadSpec{"name: \"bad name; DROP TABLE jobs\"\nk: 4\nbudget: 3\n", "name: \"bad name; DROP TABLE jobs\" must be"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nsampler: random\n", "sampler: unknown sampler \"random\""},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {epochs: -1}\n", "recipe.epochs: -1 is out of range"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {lr: fast}\n", "recipe.lr: expected a finite number, got \"fast\""},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {lr: 0}\n", "recipe.lr: 0 is out of range (0, 10]"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {epochs: 2.5}\n", "recipe.epochs: expected an integer"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {learning_rate: 0.1}\n", "recipe.learning_rate: unknown field"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nbugdet: 3\n", "bugdet: unknown field (did you mean \"budget\"?)"},
        BadSpec{"name: x\nk: 4\nbudget: 3\ndataset: {name: imagenet}\n", "dataset.name: unknown dataset \"imagenet\""},
        BadSpec{"name: x\nk: 4\nbudget: 3\ndataset: {name: \"synthetic:colors=3\"}\n",
                "dataset.name: synthetic option \"colors\" is unknown"},
        BadSpec{"name: x\nk: 4\nbudget: 3\ndataset: {name: \"synthetic:size=4\"}\n",
                "dataset.name: synthetic option size=\"4\" must be a number in [8, 256]"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nrecipe: {gate_temperature: 9}\n", "recipe.gate_temperature: 9 is out of range"},
        BadSpec{"name: x\nk: 2\nbudget: 3\nrecipe: {gate_top_k: 3}\n", "recipe.gate_top_k: 3 is larger than k (2)"},
        BadSpec{"name: x\nk: 4\nbudget: 3\nsampler: exhaustive\n", "budget: the exhaustive sampler runs all"},
        BadSpec{"name: x\nk: 4\nbudget: [1, 2]\n", "budget: expected an integer, got a list"},
        BadSpec{"[1, 2, 3]\n", "spec: expected a mapping"},
        BadSpec{"name: x\nk: {\n", "not valid YAML"}));

TEST(CampaignSpecTest, ReportsEveryProblemAtOnce) {
  auto spec = ParseCampaignSpec("name: x\nk: 4\nbudget: 3\nrecipe: {lr: -1, epochs: 0}\n");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("recipe.lr"), std::string::npos);
  EXPECT_NE(spec.status().message().find("recipe.epochs"), std::string::npos);
}

// Found by the spec fuzzer: yaml-cpp reads "0.\r\r\r" as the number 0, and
// the out-of-range message echoed the text with its carriage returns, which
// rewrite a terminal line. Every refusal must be printable.
TEST(CampaignSpecTest, OutOfRangeNumbersAreEchoedPrintably) {
  auto spec = ParseCampaignSpec("name: x\nk: 4\nbudget: 3\nrecipe: {width: \"0.\\r\\r\\r\"}\n");
  ASSERT_FALSE(spec.ok());
  const std::string message(spec.status().message());
  EXPECT_NE(message.find("recipe.width"), std::string::npos) << message;
  for (unsigned char c : message) {
    EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << "raw byte " << int{c} << " in: " << message;
  }
}

TEST(CampaignSpecTest, RefusesOversizedSpecsAndBudgetsOverTheCap) {
  SpecLimits limits;
  limits.max_budget = 5;
  auto over_cap = ParseCampaignSpec("name: x\nk: 4\nbudget: 6\n", limits);
  ASSERT_FALSE(over_cap.ok());
  EXPECT_NE(over_cap.status().message().find("above this coordinator's limit of 5"), std::string::npos);
  const std::string huge = "name: x\nk: 4\nbudget: 3\n#" + std::string(300 * 1024, 'a') + "\n";
  auto too_big = ParseCampaignSpec(huge);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("larger than the limit"), std::string::npos);
}

TEST(CampaignSpecTest, JobSeedsDifferPerRankAndAreStable) {
  EXPECT_EQ(JobSeed(1, 2), JobSeed(1, 2));
  EXPECT_NE(JobSeed(1, 2), JobSeed(1, 3));
  EXPECT_NE(JobSeed(1, 2), JobSeed(2, 2));
}

TEST(CampaignSpecTest, FamiliesOfRankFollowThePool) {
  auto spec = ParseCampaignSpec("name: x\nfamilies: [VGG, AirNet, BagNet]\nk: 2\nbudget: 3\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(FamiliesOfRank(*spec, 0), (std::vector<std::string>{"AirNet", "BagNet"}));
  EXPECT_EQ(FamiliesOfRank(*spec, 2), (std::vector<std::string>{"BagNet", "VGG"}));
}

}  // namespace
}  // namespace moe4
