#include "coordinator/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace moe4::coordinator {
namespace {

using ::testing::HasSubstr;

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
  EXPECT_THAT(text, HasSubstr("moe4_rpcs_total{method=\"WorkerService/Lease\",code=\"OK\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("moe4_database_up 1\n"));
}

}  // namespace
}  // namespace moe4::coordinator
