// The coordinator survives a PostgreSQL restart: while the server is down,
// calls fail with UNAVAILABLE (never hang, never crash); once it is back the
// pool reconnects and nothing acknowledged is lost. Stops and starts the whole
// throwaway cluster (MOE4_PG_DIR), so ctest runs it alone (RUN_SERIAL).
#include <gtest/gtest.h>
#include <unistd.h>

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
  // The HTTP probe says so too.
  EXPECT_EQ(HttpGet(server_->http_port(), "/healthz").first, 503);

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

}  // namespace
}  // namespace moe4::coordinator
