#include "coordinator/scheduler/campaign_planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "common/campaign_spec.h"
#include "common/combinatorics.h"

namespace moe4::coordinator {
namespace {

constexpr char kSpec[] =
    "name: plan\nfamilies: [AirNet, AlexNet, ResNet, VGG, DenseNet, ConvNeXt]\nk: 3\n"
    "budget: 10\nseed: 3\ncatalogue: adapted\ndataset: {name: synthetic}\nrecipe: {epochs: 2}\n";

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

// replicates: R trains each sampled combination R times, replicate-major,
// and every run of a combination gets its own seed (replicate 0 the seed it
// had without replicates).
TEST(CampaignPlannerTest, ReplicatesRepeatEachCombinationWithItsOwnSeed) {
  auto single = PlanCampaign(kSpec, SpecLimits{});
  ASSERT_TRUE(single.ok()) << single.status();
  auto plan = PlanCampaign(std::string(kSpec) + "replicates: 3\n", SpecLimits{});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->jobs.size(), 30u);
  std::set<uint64_t> seeds;
  for (size_t i = 0; i < plan->jobs.size(); ++i) {
    const PlannedJob& job = plan->jobs[i];
    EXPECT_EQ(job.replicate, static_cast<int>(i / 10));
    EXPECT_EQ(job.rank, single->jobs[i % 10].rank);  // the same combinations, again per replicate
    EXPECT_EQ(job.seed, ReplicateSeed(3, job.rank, job.replicate));
    seeds.insert(job.seed);
  }
  EXPECT_EQ(seeds.size(), 30u);  // two replicates of one combination never share a seed
  EXPECT_EQ(plan->jobs[0].seed, single->jobs[0].seed);
  EXPECT_NE(plan->jobs[10].seed, plan->jobs[0].seed);
}

// Refill: the replacement uses the families furthest below their share, not
// a suspect (a family that failed more often than it succeeded: one that
// always fails is not tried again and again), and never a combination the
// campaign has.
TEST(CampaignPlannerTest, ChooseReplacementFillsTheFamiliesBelowTheirShare) {
  // Pool of 5, K = 2. Family 0 failed twice and never succeeded; family 3
  // failed once (with 0) but also succeeded, and is short of its share.
  const std::vector<int> live = {0, 2, 2, 1, 2};
  const std::vector<int> succeeded = {0, 2, 2, 1, 2};
  const std::vector<int> failed = {2, 0, 0, 1, 0};
  auto rank = ChooseReplacement(5, 2, live, succeeded, failed, {}, 7);
  ASSERT_TRUE(rank.has_value());
  const auto families = UnrankCombination(*rank, 5, 2);
  EXPECT_EQ(std::count(families.begin(), families.end(), 3), 1);  // the short family
  EXPECT_EQ(std::count(families.begin(), families.end(), 0), 0);  // not the failing one
  // Taken combinations are skipped.
  std::set<uint64_t> taken = {*rank};
  auto next = ChooseReplacement(5, 2, live, succeeded, failed, taken, 7);
  ASSERT_TRUE(next.has_value());
  EXPECT_NE(*next, *rank);
  // Every combination taken: none left.
  std::set<uint64_t> all;
  for (uint64_t r = 0; r < 10; ++r) all.insert(r);
  EXPECT_FALSE(ChooseReplacement(5, 2, live, succeeded, failed, all, 7).has_value());
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
