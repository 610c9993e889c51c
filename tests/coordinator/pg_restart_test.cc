// The coordinator survives a PostgreSQL restart: while the server is down,
// calls fail with UNAVAILABLE (never hang, never crash); once it is back the
// pool reconnects and nothing acknowledged is lost. Stops and starts the whole
// throwaway cluster (MOE4_PG_DIR), so ctest runs it alone (RUN_SERIAL).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/coordinator/service_fixture.h"

namespace moe4::coordinator {
namespace {

using testing::SpecOptions;
using testing::SpecYaml;

// pg_ctl of the installed server, run as the cluster owner when we are root
// (the way deploy/pg-throwaway.sh runs it).
std::string PgCtl() {
  for (int v = 20; v >= 10; --v) {
    std::string p = "/usr/lib/postgresql/" + std::to_string(v) + "/bin/pg_ctl";
    if (access(p.c_str(), X_OK) == 0) return (getuid() == 0 ? "runuser -u postgres -- " : "") + p;
  }
  return "";
}

class PgRestartTest : public ServiceFixture {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("MOE4_PG_DIR");
    ASSERT_TRUE(dir != nullptr && *dir != '\0')
        << "MOE4_PG_DIR is not set: this test restarts the throwaway cluster of "
           "deploy/pg-throwaway.sh (deploy/test.sh exports it)";
    data_ = std::string(dir) + "/data";
    log_ = std::string(dir) + "/server.log";
    pg_ctl_ = PgCtl();
    ASSERT_FALSE(pg_ctl_.empty()) << "pg_ctl not found";
    // postmaster.opts holds the server's command line; starting again with the
    // same options keeps its port, socket directory and settings.
    std::ifstream opts(data_ + "/postmaster.opts");
    std::stringstream ss;
    ss << opts.rdbuf();
    std::string line = ss.str();
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    const size_t space = line.find(' ');
    ASSERT_NE(space, std::string::npos) << "cannot read " << data_ << "/postmaster.opts";
    server_args_ = line.substr(space + 1);
    ServiceFixture::SetUp();
  }

  void TearDown() override {
    // Whatever happened, leave the cluster running for the other tests.
    if (stopped_) Start();
    ServiceFixture::TearDown();
  }

  void Stop() {
    ASSERT_EQ(std::system((pg_ctl_ + " -D " + data_ + " -m fast -w stop >/dev/null").c_str()), 0);
    stopped_ = true;
  }
  void Start() {
    const std::string cmd = pg_ctl_ + " -D " + data_ + " -l " + log_ + " -w -t 60 -o '" +
                            server_args_ + "' start >/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    stopped_ = false;
  }

  std::string data_, log_, pg_ctl_, server_args_;
  bool stopped_ = false;
};

TEST_F(PgRestartTest, AnswersUnavailableWhileDownAndRecovers) {
  SpecOptions spec;
  spec.budget = 3;
  moe4::v1::SubmitResponse sub;
  ASSERT_TRUE(Submit(SpecYaml(spec), false, &sub).ok());
  const int64_t w = Register("w");
  moe4::v1::LeaseResponse lease;
  ASSERT_TRUE(Lease(w, &lease).ok());
  ASSERT_TRUE(lease.has_job());
  ASSERT_TRUE(ReportEpoch(w, lease.job(), 1, 0.5).ok());

  Stop();
  moe4::v1::GetRequest get;
  get.set_campaign_id(sub.campaign_id());
  moe4::v1::GetResponse status;
  auto ctx = Context(kAdminToken);
  const auto before = std::chrono::steady_clock::now();
  grpc::Status s = campaign_->Get(ctx.get(), get, &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(20));
  EXPECT_EQ(ReportEpoch(w, lease.job(), 2, 0.6).error_code(), grpc::StatusCode::UNAVAILABLE);
  moe4::v1::LeaseResponse none;
  EXPECT_EQ(Lease(w, &none).error_code(), grpc::StatusCode::UNAVAILABLE);
  // Readiness says so; liveness does not (a restart would not help).
  EXPECT_EQ(HttpGet(server_->http_port(), "/readyz").first, 503);
  EXPECT_EQ(HttpGet(server_->http_port(), "/healthz").first, 200);

  Start();
  // The pool reconnects on the next call; give the server a moment to accept.
  grpc::Status again;
  for (int i = 0; i < 50; ++i) {
    auto c = Context(kAdminToken);
    again = campaign_->Get(c.get(), get, &status);
    if (again.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(again.ok()) << again.error_message();
  // Everything acknowledged before the restart is still there.
  EXPECT_EQ(status.epochs_done(), 1);
  EXPECT_EQ(status.campaign().running(), 1);
  // The worker carries on where it was.
  ASSERT_TRUE(ReportEpoch(w, lease.job(), 2, 0.6).ok());
  ASSERT_TRUE(CompleteJob(w, lease.job(), 0.6).ok());
  auto c = Context(kAdminToken);
  ASSERT_TRUE(campaign_->Get(c.get(), get, &status).ok());
  EXPECT_EQ(status.campaign().succeeded(), 1);
}

// Issue 17 item 4: a database outage longer than any probe's budget never
// fails liveness, even while other requests wait on the database, and readiness
// fails within its own deadline and recovers with the database.
TEST_F(PgRestartTest, LivenessStaysGreenWhileTheDatabaseIsDown) {
  using Clock = std::chrono::steady_clock;
  const int port = server_->http_port();
  ASSERT_EQ(HttpGet(port, "/readyz").first, 200);
  ASSERT_EQ(HttpGet(port, "/healthz").first, 200);

  Stop();
  // Readiness may repeat its last answer for up to half a second.
  const auto noticed_by = Clock::now() + std::chrono::seconds(3);
  int code = 200;
  while (code == 200 && Clock::now() < noticed_by) code = HttpGet(port, "/readyz").first;
  ASSERT_EQ(code, 503) << "readiness did not notice the outage";
  // Requests that ask the database keep the blocking handlers busy meanwhile.
  std::atomic<bool> done{false};
  std::thread load([&] {
    while (!done) {
      HttpGet(port, "/metrics");
      HttpGet(port, "/readyz");
    }
  });
  // Longer than the readiness deadline (2 s) several times over, and than
  // the pool's connect timeout (5 s).
  const auto until = Clock::now() + std::chrono::seconds(12);
  int probes = 0;
  while (Clock::now() < until) {
    auto t0 = Clock::now();
    EXPECT_EQ(HttpGet(port, "/healthz").first, 200);
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1)) << "liveness waited on something";
    t0 = Clock::now();
    EXPECT_EQ(HttpGet(port, "/readyz").first, 503);
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(6)) << "readiness exceeded its deadline";
    ++probes;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  done = true;
  load.join();
  EXPECT_GT(probes, 5);

  Start();
  int ready = 0;
  for (int i = 0; i < 100 && ready != 200; ++i) {
    ready = HttpGet(port, "/readyz").first;
    if (ready != 200) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(ready, 200) << "readiness did not recover with the database";
}

}  // namespace
}  // namespace moe4::coordinator
