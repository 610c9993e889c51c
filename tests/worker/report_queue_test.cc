#include "worker/agent/report_queue.h"

#include <gtest/gtest.h>

#include <fstream>

#include "test_util.h"

namespace moe4::worker {
namespace {

moe4::v1::EpochMetrics Epoch(int e, double acc) {
  moe4::v1::EpochMetrics m;
  m.set_epoch(e);
  m.set_test_accuracy(acc);
  return m;
}

TEST(ReportQueueTest, PersistsInOrderAcrossReopen) {
  testing::ScratchDir dir;
  const std::string path = dir.File("sub/job-1.reports");
  {
    ReportQueue q(path);
    ASSERT_TRUE(q.Push(Epoch(1, 0.5)).ok());
    ASSERT_TRUE(q.Push(Epoch(2, 0.6)).ok());
    ASSERT_TRUE(q.Push(Epoch(3, 0.7)).ok());
    ASSERT_TRUE(q.Drop(1).ok());
  }
  ReportQueue reopened(path);
  ASSERT_EQ(reopened.pending().size(), 2u);
  EXPECT_EQ(reopened.pending()[0].epoch(), 2);
  EXPECT_DOUBLE_EQ(reopened.pending()[1].test_accuracy(), 0.7);
  // Re-pushing an epoch replaces it in place rather than duplicating it.
  ASSERT_TRUE(reopened.Push(Epoch(2, 0.6)).ok());
  EXPECT_EQ(reopened.pending().size(), 2u);
  reopened.Remove();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ReportQueueTest, CorruptFileIsReportedAndIgnored) {
  testing::ScratchDir dir;
  std::ofstream(dir.File("q")) << "\xff\xff\xff not a proto";
  ReportQueue q(dir.File("q"));
  EXPECT_TRUE(q.empty());
  EXPECT_NE(q.load_error().find(dir.File("q")), std::string::npos);
}

}  // namespace
}  // namespace moe4::worker
