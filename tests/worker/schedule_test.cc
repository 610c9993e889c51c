#include "worker/train/schedule.h"

#include <gtest/gtest.h>

namespace moe4::worker {
namespace {

TEST(LrScheduleTest, WarmupThenCosineAtHandComputedPoints) {
  // lr 1e-3, 5 warm-up epochs from 0.1 lr, cosine to 1e-6 at epoch 15.
  const LrSchedule s(1e-3, 5, 0.1, 1e-6, 15);
  EXPECT_NEAR(s.At(0.0), 1e-4, 1e-12);
  EXPECT_NEAR(s.At(2.5), 5.5e-4, 1e-12);                       // 1e-3 * (0.1 + 0.9 * 0.5)
  EXPECT_NEAR(s.At(5.0), 1e-3, 1e-12);                         // end of warm-up = peak
  EXPECT_NEAR(s.At(10.0), 1e-6 + (1e-3 - 1e-6) * 0.5, 1e-12);  // half-way
  EXPECT_NEAR(s.At(7.5), 1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + std::cos(M_PI / 4)), 1e-12);
  EXPECT_NEAR(s.At(15.0), 1e-6, 1e-12);
}

TEST(LrScheduleTest, NoWarmupStartsAtPeak) {
  const LrSchedule s(2e-3, 0, 0.1, 0.0, 4);
  EXPECT_NEAR(s.At(0.0), 2e-3, 1e-12);
  EXPECT_NEAR(s.At(2.0), 1e-3, 1e-12);
  EXPECT_NEAR(s.At(4.0), 0.0, 1e-12);
}

TEST(LrScheduleTest, WarmupLongerThanTrainingNeverReachesCosine) {
  const LrSchedule s(1e-3, 5, 0.1, 1e-6, 2);
  EXPECT_NEAR(s.At(2.0), 1e-3 * (0.1 + 0.9 * 2.0 / 5.0), 1e-12);
}

TEST(LrScheduleTest, ReadsTheRecipe) {
  moe4::v1::Recipe r;
  r.set_lr(1.0);
  r.set_warmup_epochs(2);
  r.set_warmup_start_factor(0.5);
  r.set_min_lr(0.0);
  r.set_epochs(4);
  const LrSchedule s(r);
  EXPECT_DOUBLE_EQ(s.At(1.0), 0.75);
  EXPECT_NEAR(s.At(3.0), 0.5, 1e-12);
}

}  // namespace
}  // namespace moe4::worker
