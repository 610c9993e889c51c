#include "coordinator/scheduler/campaign_planner.h"

#include <gtest/gtest.h>

#include <set>

namespace moe4::coordinator {
namespace {

constexpr char kSpec[] =
    "name: plan\nfamilies: [AirNet, AlexNet, ResNet, VGG, DenseNet, ConvNeXt]\nk: 3\n"
    "budget: 10\nseed: 3\ndataset: {name: synthetic}\nrecipe: {epochs: 2}\n";

TEST(CampaignPlannerTest, PlansDeterministicDistinctJobs) {
  auto a = PlanCampaign(kSpec, SpecLimits{});
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = PlanCampaign(kSpec, SpecLimits{});
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(a->jobs.size(), 10u);
  std::set<uint64_t> ranks, seeds;
  for (size_t i = 0; i < a->jobs.size(); ++i) {
    EXPECT_EQ(a->jobs[i].rank, b->jobs[i].rank);
    EXPECT_EQ(a->jobs[i].families, b->jobs[i].families);
    EXPECT_EQ(a->jobs[i].families.size(), 3u);
    ranks.insert(a->jobs[i].rank);
    seeds.insert(a->jobs[i].seed);
  }
  EXPECT_EQ(ranks.size(), 10u);
  EXPECT_EQ(seeds.size(), 10u);
}

TEST(CampaignPlannerTest, RefusesInvalidSpecs) {
  auto bad = PlanCampaign("name: x\nfamilies: [AirNet, Nope]\nk: 2\nbudget: 1\n", SpecLimits{});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  SpecLimits tight;
  tight.max_budget = 5;
  EXPECT_FALSE(PlanCampaign(kSpec, tight).ok());
}

TEST(CampaignPlannerTest, CoverageCountsFamilies) {
  const std::vector<std::string> pool = {"A", "B", "C", "D", "E", "F"};
  auto cov = CoverageOf(pool, 2, {{"A", "B"}, {"A", "C"}, {"A", "D"}});
  EXPECT_EQ(cov.candidates(), 3);
  ASSERT_EQ(cov.families_size(), 6);
  EXPECT_EQ(cov.families(0).family(), "A");
  EXPECT_EQ(cov.families(0).count(), 3);
  EXPECT_TRUE(cov.families(0).anchor());  // share 1 > 2K/N = 2/3
  EXPECT_FALSE(cov.families(1).anchor());
  EXPECT_EQ(cov.families(1).count(), 1);
  EXPECT_EQ(cov.pairs_covered(), 3);
  EXPECT_EQ(cov.pairs_total(), 15);
}

}  // namespace
}  // namespace moe4::coordinator
