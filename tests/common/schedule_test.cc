// The `schedule` spec field and the rung arithmetic (common/schedule.h).
#include "common/schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/campaign_spec.h"

namespace moe4 {
namespace {

using ::testing::HasSubstr;

constexpr const char* kBase = R"(name: asha-test
families: [AirNet, AlexNet, BagNet, DenseNet, ShuffleNet]
k: 2
budget: 9
catalogue: adapted
)";

// kBase, a dataset unless `extra` has one, then `extra`.
absl::StatusOr<CampaignSpec> Parse(const std::string& extra, const SpecLimits& limits = {}) {
  const bool dataset = extra.find("dataset:") != std::string::npos;
  return ParseCampaignSpec(
      absl::StrCat(kBase, dataset ? "" : "dataset: {name: fashion-mnist, train_subset: 2000}\n", extra), limits);
}

TEST(ScheduleTest, RungEpochsGrowByEtaAndEndAtMax) {
  EXPECT_EQ(RungEpochs({ScheduleKind::kAsha, 1, 9, 3}), (std::vector<int>{1, 3, 9}));
  EXPECT_EQ(RungEpochs({ScheduleKind::kAsha, 1, 10, 3}), (std::vector<int>{1, 3, 9, 10}));
  EXPECT_EQ(RungEpochs({ScheduleKind::kAsha, 2, 16, 2}), (std::vector<int>{2, 4, 8, 16}));
  EXPECT_EQ(RungEpochs({ScheduleKind::kAsha, 5, 5, 3}), (std::vector<int>{5}));
  EXPECT_EQ(RungEpochs({ScheduleKind::kFull, 0, 7, 3}), (std::vector<int>{7}));
  // No overflow on the way past a large max.
  EXPECT_EQ(RungEpochs({ScheduleKind::kAsha, 1000, 100000, 100}), (std::vector<int>{1000, 100000}));
}

TEST(ScheduleTest, PromotionSlotsAreTheTopOneOverEtaAndOneOnceClosed) {
  EXPECT_EQ(PromotionSlots(0, 3, false), 0);
  EXPECT_EQ(PromotionSlots(2, 3, false), 0);
  EXPECT_EQ(PromotionSlots(3, 3, false), 1);
  EXPECT_EQ(PromotionSlots(8, 3, false), 2);
  EXPECT_EQ(PromotionSlots(9, 3, true), 3);
  EXPECT_EQ(PromotionSlots(2, 3, true), 1);  // a closed rung sends its best on
  EXPECT_EQ(PromotionSlots(0, 3, true), 0);
}

TEST(ScheduleTest, FullIsTheDefault) {
  auto spec = Parse("recipe: {epochs: 4}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->schedule.kind, ScheduleKind::kFull);
  EXPECT_EQ(spec->recipe.epochs(), 4);
}

TEST(ScheduleTest, AshaResolvesDefaultsAndSetsTheRecipeEpochs) {
  auto spec = Parse("schedule: {kind: asha, min_epochs: 1, max_epochs: 9}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->schedule.kind, ScheduleKind::kAsha);
  EXPECT_EQ(spec->schedule.min_epochs, 1);
  EXPECT_EQ(spec->schedule.max_epochs, 9);
  EXPECT_EQ(spec->schedule.reduction_factor, 3);
  // The learning-rate schedule spans the top rung, warm-up as by default.
  EXPECT_EQ(spec->recipe.epochs(), 9);
  EXPECT_EQ(spec->recipe.warmup_epochs(), 5);

  // max_epochs defaults to recipe.epochs; min_epochs to 1.
  auto from_recipe = Parse("recipe: {epochs: 4}\nschedule: {kind: asha, reduction_factor: 2}\n");
  ASSERT_TRUE(from_recipe.ok()) << from_recipe.status();
  EXPECT_EQ(from_recipe->schedule.min_epochs, 1);
  EXPECT_EQ(from_recipe->schedule.max_epochs, 4);
  EXPECT_EQ(from_recipe->recipe.warmup_epochs(), 3);
  EXPECT_EQ(RungEpochs(from_recipe->schedule), (std::vector<int>{1, 2, 4}));
  // Stating both, equal, is fine; so is the metric.
  EXPECT_TRUE(Parse("recipe: {epochs: 3}\nschedule: {kind: asha, max_epochs: 3, metric: validation_accuracy}\n").ok());
}

struct BadSchedule {
  std::string yaml;
  std::string field;
  std::string reason;
};

class ScheduleErrorTest : public ::testing::TestWithParam<BadSchedule> {};

TEST_P(ScheduleErrorTest, NamesTheFieldAndTheReason) {
  SpecLimits limits;
  limits.max_epochs = 50;
  auto spec = Parse(GetParam().yaml, limits);
  ASSERT_FALSE(spec.ok()) << GetParam().yaml;
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr(GetParam().field + ": ")) << spec.status();
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr(GetParam().reason)) << spec.status();
}

INSTANTIATE_TEST_SUITE_P(
    Schedules, ScheduleErrorTest,
    ::testing::Values(
        BadSchedule{"schedule: {kind: asha, min_epochs: 5, max_epochs: 3}\n", "schedule.min_epochs",
                    "5 is greater than schedule.max_epochs 3"},
        BadSchedule{"recipe: {epochs: 2}\nschedule: {kind: asha, min_epochs: 3}\n", "schedule.min_epochs",
                    "3 is greater than schedule.max_epochs 2 (recipe.epochs)"},
        BadSchedule{"schedule: {kind: asha, reduction_factor: 1}\n", "schedule.reduction_factor",
                    "1 is out of range [2, 100]"},
        BadSchedule{"schedule: {kind: asha, reduction_factor: 0}\n", "schedule.reduction_factor",
                    "0 is out of range [2, 100]"},
        BadSchedule{"selection: final\ndataset: {name: fashion-mnist, validation_fraction: 0}\n"
                    "schedule: {kind: asha}\n",
                    "schedule.kind", "asha promotes by validation accuracy, but dataset.validation_fraction is 0"},
        BadSchedule{"schedule: {kind: asha, max_epochs: 60}\n", "schedule.max_epochs",
                    "60 exceeds this coordinator's --max-epochs of 50"},
        BadSchedule{"recipe: {epochs: 10}\nschedule: {kind: asha, max_epochs: 9}\n", "schedule.max_epochs",
                    "9 differs from recipe.epochs 10 (line 7)"},
        BadSchedule{"replicates: 3\nschedule: {kind: asha}\n", "schedule.kind", "replicates 3 is not supported"},
        BadSchedule{"schedule: {kind: hyperband}\n", "schedule.kind", "unknown schedule \"hyperband\""},
        BadSchedule{"schedule: {kind: asha, metric: test_accuracy}\n", "schedule.metric",
                    "promotions never look at test accuracy"},
        BadSchedule{"schedule: {kind: full, min_epochs: 1}\n", "schedule.min_epochs", "only with kind: asha"},
        BadSchedule{"schedule: {kind: asha, min_epoch: 1}\n", "schedule.min_epoch",
                    "unknown field (did you mean \"min_epochs\"?)"}));

}  // namespace
}  // namespace moe4
