// DecideAsha: the promotion rule as pure logic (coordinator/scheduler/asha.h).
#include "coordinator/scheduler/asha.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace moe4::coordinator {
namespace {

RungMember Waiting(int64_t id, double metric) { return {id, metric, false, true}; }

std::vector<int64_t> Promoted(const AshaDecisions& d) {
  std::vector<int64_t> ids;
  for (const auto& p : d.promotions) ids.push_back(p.job_id);
  return ids;
}

std::vector<int64_t> Stopped(const AshaDecisions& d) {
  std::vector<int64_t> ids;
  for (const auto& s : d.stops) ids.push_back(s.job_id);
  return ids;
}

TEST(AshaTest, NothingIsPromotedBeforeEtaMembersFinished) {
  std::vector<RungSnapshot> rungs(3);
  rungs[0].finished = {Waiting(1, 0.9), Waiting(2, 0.8)};
  rungs[0].waiting = 2;
  rungs[0].training = 7;
  const AshaDecisions d = DecideAsha(rungs, 3);
  EXPECT_TRUE(d.promotions.empty());
  EXPECT_TRUE(d.stops.empty());
  EXPECT_FALSE(d.closed[0]);
}

TEST(AshaTest, PromotesTheBestAsSoonAsItIsInTheTopThird) {
  std::vector<RungSnapshot> rungs(3);
  rungs[0].finished = {Waiting(1, 0.5), Waiting(2, 0.9), Waiting(3, 0.7)};
  rungs[0].waiting = 3;
  rungs[0].training = 6;
  const AshaDecisions d = DecideAsha(rungs, 3);
  EXPECT_EQ(Promoted(d), (std::vector<int64_t>{2}));
  EXPECT_EQ(d.promotions[0].from_rung, 0);
  EXPECT_TRUE(d.stops.empty());  // rung 0 is still open: 6 train towards it
}

TEST(AshaTest, NeverPromotesTwiceAndKeepsEarlierPromotions) {
  std::vector<RungSnapshot> rungs(2);
  // Job 2 was promoted when it led; 4 and 5 now outrank it.
  rungs[0].finished = {Waiting(1, 0.5), {2, 0.9, true, false}, Waiting(3, 0.7), Waiting(4, 0.95),
                       Waiting(5, 0.93), Waiting(6, 0.1)};
  rungs[0].waiting = 5;
  rungs[0].training = 3;
  const AshaDecisions d = DecideAsha(rungs, 3);
  EXPECT_EQ(Promoted(d), (std::vector<int64_t>{4, 5}));
}

TEST(AshaTest, ClosedRungStopsTheRestAndAlwaysSendsItsBestOn) {
  std::vector<RungSnapshot> rungs(2);
  rungs[0].finished = {Waiting(1, 0.5), Waiting(2, 0.6)};
  rungs[0].waiting = 2;
  const AshaDecisions d = DecideAsha(rungs, 3);
  EXPECT_EQ(Promoted(d), (std::vector<int64_t>{2}));  // floor(2/3) = 0, but a closed rung sends one
  EXPECT_EQ(Stopped(d), (std::vector<int64_t>{1}));
  EXPECT_TRUE(d.closed[0]);
  EXPECT_FALSE(d.closed[1]);  // the promoted job now trains towards rung 1
}

TEST(AshaTest, AHigherRungStaysOpenWhileALowerOneCanStillPromote) {
  std::vector<RungSnapshot> rungs(3);
  rungs[0].training = 1;  // one more rung-0 result may promote into rung 1
  rungs[1].finished = {Waiting(1, 0.9), Waiting(2, 0.1), Waiting(3, 0.2)};
  rungs[1].waiting = 3;
  const AshaDecisions d = DecideAsha(rungs, 3);
  EXPECT_EQ(Promoted(d), (std::vector<int64_t>{1}));
  EXPECT_TRUE(d.stops.empty());
  EXPECT_FALSE(d.closed[1]);
}

TEST(AshaTest, MissingMetricsRankLastAndTiesGoToTheLowerJobId) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<RungSnapshot> rungs(2);
  rungs[0].finished = {Waiting(9, nan), Waiting(7, 0.4), Waiting(3, 0.4)};
  rungs[0].waiting = 3;
  rungs[0].training = 1;
  EXPECT_EQ(Promoted(DecideAsha(rungs, 3)), (std::vector<int64_t>{3}));
  EXPECT_DOUBLE_EQ(PromotionThreshold(rungs[0], 3, false), 0.4);
  rungs[0].finished.pop_back();  // two left: no slot while open
  EXPECT_TRUE(std::isnan(PromotionThreshold(rungs[0], 3, false)));
}

TEST(AshaTest, NothingIsPromotedFromTheTopRung) {
  std::vector<RungSnapshot> rungs(1);
  rungs[0].finished = {{1, 0.9, false, false}, {2, 0.8, false, false}, {3, 0.7, false, false}};
  const AshaDecisions d = DecideAsha(rungs, 3);
  EXPECT_TRUE(d.promotions.empty());
  EXPECT_TRUE(d.stops.empty());
  EXPECT_TRUE(d.closed[0]);
}

}  // namespace
}  // namespace moe4::coordinator
