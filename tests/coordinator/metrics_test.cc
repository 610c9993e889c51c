#include "coordinator/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace moe4::coordinator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, RendersPrometheusText) {
  Metrics m;
  m.AddLeasesGranted(3);
  m.AddFencedWrites(2);
  m.AddEpochRows(10);
  m.ObserveRpc("WorkerService/Lease", "OK", 0.002);
  m.ObserveRpc("WorkerService/Lease", "OK", 2.0);
  std::map<std::string, int64_t> jobs = {{"pending", 4}, {"succeeded", 1}};
  const std::string text = m.Render(&jobs, true);
  EXPECT_THAT(text, HasSubstr("# TYPE moe4_leases_granted_total counter\nmoe4_leases_granted_total 3\n"));
  EXPECT_THAT(text, HasSubstr("moe4_fenced_writes_total 2\n"));
  EXPECT_THAT(text, HasSubstr("moe4_epoch_rows_written_total 10\n"));
  EXPECT_THAT(text, HasSubstr("moe4_jobs{state=\"pending\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("moe4_jobs{state=\"running\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("moe4_rpc_duration_seconds_bucket{method=\"WorkerService/Lease\",le=\"0.0025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("moe4_rpc_duration_seconds_bucket{method=\"WorkerService/Lease\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("moe4_rpc_duration_seconds_count{method=\"WorkerService/Lease\"} 2\n"));
  // prometheus-cpp writes a series' labels sorted by name.
  EXPECT_THAT(text, HasSubstr("moe4_rpcs_total{code=\"OK\",method=\"WorkerService/Lease\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("moe4_database_up 1\n"));
  EXPECT_THAT(text, HasSubstr("# HELP moe4_fenced_writes_total Worker writes rejected because they came from a stale attempt.\n"));
  EXPECT_EQ(m.leases_granted(), 3);
  EXPECT_EQ(m.fenced_writes(), 2);
}

TEST(MetricsTest, WithoutTheDatabaseThereAreNoJobCountsAndDatabaseUpIsZero) {
  Metrics m;
  m.AddLeasesExpired(2);
  const std::string text = m.Render(nullptr, false);
  EXPECT_THAT(text, HasSubstr("moe4_database_up 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("moe4_jobs{")));
  EXPECT_THAT(text, HasSubstr("moe4_leases_expired_total 2\n"));
}

TEST(MetricsTest, ConcurrentObservationsAreAllCounted) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 1000; ++i) {
        m.ObserveRpc(t % 2 == 0 ? "WorkerService/Lease" : "WorkerService/Heartbeat", "OK", 0.001);
        m.AddEpochRows(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = m.Render(nullptr, true);
  EXPECT_THAT(text, HasSubstr("moe4_rpc_duration_seconds_count{method=\"WorkerService/Lease\"} 2000\n"));
  EXPECT_THAT(text, HasSubstr("moe4_rpcs_total{code=\"OK\",method=\"WorkerService/Heartbeat\"} 2000\n"));
  EXPECT_EQ(m.epoch_rows(), 4000);
}

}  // namespace
}  // namespace moe4::coordinator
