// The worker daemon's /metrics without LibTorch: what WorkerMetrics counts,
// served by MetricsEndpoint over real HTTP on 127.0.0.1 and scraped between
// changes, and the --http-listen addresses it refuses.
#include "worker/agent/worker_metrics.h"

#include <gtest/gtest.h>

#include "scrape.h"
#include "worker/agent/metrics_endpoint.h"

namespace moe4::worker {
namespace {

using testing::HttpGet;
using testing::SeriesValue;

TEST(WorkerMetricsTest, ScrapesOverHttpFollowJobsEpochsMemoryAndRetries) {
  auto metrics = std::make_shared<WorkerMetrics>("box3-cuda0", "cuda:0");
  auto endpoint = MetricsEndpoint::Start("127.0.0.1:0", metrics->registry());
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  const int port = (*endpoint)->port();
  ASSERT_GT(port, 0);

  testing::HttpAnswer before = HttpGet(port, "/metrics");
  ASSERT_EQ(before.status, 200) << before.headers;
  EXPECT_NE(before.headers.find("text/plain"), std::string::npos) << before.headers;
  EXPECT_EQ(SeriesValue(before.body, "moe4_worker_jobs_running"), 0.0) << before.body;
  EXPECT_EQ(SeriesValue(before.body, "moe4_worker_epochs_total"), 0.0);
  EXPECT_EQ(SeriesValue(before.body, "moe4_worker_info{device=\"cuda:0\",worker=\"box3-cuda0\"}"), 1.0)
      << before.body;
  EXPECT_NE(before.body.find("# TYPE moe4_worker_epochs_total counter\n"), std::string::npos);
  EXPECT_NE(before.body.find("# TYPE moe4_worker_jobs_running gauge\n"), std::string::npos);

  metrics->SetDeviceMemoryRegisteredMb(24576);
  metrics->JobStarted();
  metrics->SetDeviceMemoryReservedMb(1000);
  metrics->EpochTrained(1234.5);
  metrics->EpochTrained(2048);
  metrics->RpcRetried("ReportEpochs");
  metrics->RpcRetried("ReportEpochs");
  metrics->RpcRetried("Lease");
  metrics->SetDeviceMemoryFreeMb(512);
  metrics->SetDeviceMemoryFreeMb(0);  // unknown: the last figure stays
  const std::string during = HttpGet(port, "/metrics").body;
  EXPECT_EQ(SeriesValue(during, "moe4_worker_jobs_running"), 1.0) << during;
  EXPECT_EQ(SeriesValue(during, "moe4_worker_epochs_total"), 2.0);
  EXPECT_EQ(SeriesValue(during, "moe4_worker_images_per_second"), 2048.0);
  EXPECT_EQ(SeriesValue(during, "moe4_worker_device_memory_registered_bytes"), 24576.0 * 1024 * 1024);
  EXPECT_EQ(SeriesValue(during, "moe4_worker_device_memory_reserved_bytes"), 1000.0 * 1024 * 1024);
  EXPECT_EQ(SeriesValue(during, "moe4_worker_device_memory_free_bytes"), 512.0 * 1024 * 1024);
  EXPECT_EQ(SeriesValue(during, "moe4_worker_rpc_retries_total{method=\"ReportEpochs\"}"), 2.0);
  EXPECT_EQ(SeriesValue(during, "moe4_worker_rpc_retries_total{method=\"Lease\"}"), 1.0);

  metrics->JobFailed(/*retryable=*/true);
  metrics->JobEnded();
  metrics->JobStarted();
  metrics->JobCompleted();
  metrics->JobEnded();
  metrics->JobAbandoned();
  const std::string after = HttpGet(port, "/metrics").body;
  EXPECT_EQ(SeriesValue(after, "moe4_worker_jobs_running"), 0.0) << after;
  EXPECT_EQ(SeriesValue(after, "moe4_worker_jobs_failed_total{retryable=\"true\"}"), 1.0);
  EXPECT_EQ(SeriesValue(after, "moe4_worker_jobs_failed_total{retryable=\"false\"}"), 0.0);
  EXPECT_EQ(SeriesValue(after, "moe4_worker_jobs_completed_total"), 1.0);
  EXPECT_EQ(SeriesValue(after, "moe4_worker_jobs_abandoned_total"), 1.0);
  // What Render() prints is what the endpoint serves, less its exposer_*.
  EXPECT_EQ(SeriesValue(metrics->Render(), "moe4_worker_jobs_completed_total"), 1.0);

  EXPECT_EQ(HttpGet(port, "/").status, 404);
}

TEST(WorkerMetricsTest, AnAddressInUseIsAnErrorNamingTheFlag) {
  auto metrics = std::make_shared<WorkerMetrics>("w", "cpu");
  auto first = MetricsEndpoint::Start("127.0.0.1:0", metrics->registry());
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = MetricsEndpoint::Start(taken, metrics->registry());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("--http-listen " + taken + ": cannot listen"), std::string::npos)
      << second.status();
}

TEST(WorkerMetricsTest, ListenAddressesAreRefusedNamingTheFlagAndTheFault) {
  struct Case {
    const char* address;
    bool ok;
    const char* says;  // part of the error
  };
  const Case cases[] = {
      {"127.0.0.1:9465", true, ""},
      {"0.0.0.0:0", true, ""},
      {"[::1]:9465", true, ""},
      {"9465", false, "no port"},
      {"localhost:9465", false, "names are not resolved"},
      {"127.0.0.1:", false, "from 0 to 65535"},
      {"127.0.0.1:65536", false, "from 0 to 65535"},
      {"127.0.0.1:+80", false, "from 0 to 65535"},
      {"127.0.0.1:9465s", false, "from 0 to 65535"},
      {"127.0.0.1:1,127.0.0.1:2", false, "not an IPv4 address"},
      {"[::zz]:9465", false, "not an IPv6 address"},
  };
  for (const Case& c : cases) {
    const absl::Status s = CheckListenAddress(c.address);
    EXPECT_EQ(s.ok(), c.ok) << c.address << ": " << s;
    if (!c.ok) {
      EXPECT_NE(s.message().find(std::string("--http-listen ") + c.address), std::string::npos) << s;
      EXPECT_NE(s.message().find(c.says), std::string::npos) << c.address << ": " << s;
    }
  }
}

}  // namespace
}  // namespace moe4::worker
