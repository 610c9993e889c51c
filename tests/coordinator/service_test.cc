// The coordinator as clients see it: a real CoordinatorServer on loopback, real
// gRPC stubs, a fresh database per test.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "common/auth.h"
#include "coordinator/server/coordinator_server.h"
#include "moe4/v1/moe4.grpc.pb.h"
#include "tests/coordinator/service_fixture.h"
#include "tests/coordinator/test_support.h"

namespace moe4::coordinator {
namespace {

using testing::Epoch;
using testing::QueryOne;
using testing::SpecOptions;
using testing::SpecYaml;

class ServiceTest : public ServiceFixture {};

TEST_F(ServiceTest, RefusesCallsWithoutTheRightToken) {
  auto worker_stub = moe4::v1::WorkerService::NewStub(channel_);
  auto campaign_stub = moe4::v1::CampaignService::NewStub(channel_);
  moe4::v1::RegisterRequest reg;
  reg.set_name("w");
  reg.set_device_kind("cpu");
  moe4::v1::RegisterResponse reg_resp;
  moe4::v1::ListRequest list;
  moe4::v1::ListResponse list_resp;
  {
    grpc::ClientContext ctx;  // no token
    EXPECT_EQ(worker_stub->Register(&ctx, reg, &reg_resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(campaign_stub->List(&ctx, list, &list_resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    auto ctx = Context("wrong-token");
    EXPECT_EQ(worker_stub->Register(ctx.get(), reg, &reg_resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Basic " + std::string(kAdminToken));
    EXPECT_EQ(campaign_stub->List(&ctx, list, &list_resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    auto ctx = Context(kWorkerToken);  // a worker may not touch campaigns
    EXPECT_EQ(campaign_stub->List(ctx.get(), list, &list_resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    moe4::v1::SubmitRequest submit;
    submit.set_spec_yaml(SpecYaml({}));
    moe4::v1::SubmitResponse submit_resp;
    auto ctx2 = Context(kWorkerToken);
    EXPECT_EQ(campaign_stub->Submit(ctx2.get(), submit, &submit_resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    auto ctx = Context(kWorkerToken);
    EXPECT_TRUE(worker_stub->Register(ctx.get(), reg, &reg_resp).ok());
  }
  {
    auto ctx = Context(kAdminToken);  // admin may call everything
    EXPECT_TRUE(worker_stub->Register(ctx.get(), reg, &reg_resp).ok());
    auto ctx2 = Context(kAdminToken);
    EXPECT_TRUE(campaign_stub->List(ctx2.get(), list, &list_resp).ok());
  }
}

TEST_F(ServiceTest, StartRefusesMissingOrSharedTokens) {
  CoordinatorOptions o = Options();
  o.worker_token = "";
  EXPECT_EQ(CoordinatorServer::Start(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.worker_token = o.admin_token;
  EXPECT_EQ(CoordinatorServer::Start(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ServiceTest, SubmitLeaseReportCompleteLeaderboard) {
  SpecOptions spec;
  spec.budget = 5;
  spec.epochs = 2;

  // Dry run: combinations and coverage, nothing written.
  moe4::v1::SubmitResponse dry;
  ASSERT_TRUE(Submit(SpecYaml(spec), /*dry_run=*/true, &dry).ok());
  EXPECT_EQ(dry.campaign_id(), 0);
  EXPECT_EQ(dry.jobs(), 5);
  EXPECT_EQ(dry.combinations_size(), 5);
  EXPECT_EQ(dry.coverage().candidates(), 5);
  EXPECT_EQ(dry.coverage().families_size(), 5);
  EXPECT_EQ(QueryOne(db_.url(), "SELECT count(*) FROM campaigns"), "0");

  moe4::v1::SubmitResponse sub;
  ASSERT_TRUE(Submit(SpecYaml(spec), false, &sub).ok());
  ASSERT_GT(sub.campaign_id(), 0);
  const int64_t worker = Register("box1-gpu0");

  int done = 0;
  for (;;) {
    moe4::v1::LeaseResponse lease;
    ASSERT_TRUE(Lease(worker, &lease).ok());
    if (!lease.has_job()) {
      EXPECT_GT(lease.retry_after_ms(), 0);
      break;
    }
    const auto& job = lease.job();
    EXPECT_EQ(job.campaign_id(), sub.campaign_id());
    EXPECT_EQ(job.lease_seconds(), 30);
    for (int e = 1; e <= 2; ++e) {
      ASSERT_TRUE(ReportEpoch(worker, job, e, 0.5 + 0.1 * done).ok());
    }
    ASSERT_TRUE(CompleteJob(worker, job, 0.5 + 0.1 * done).ok());
    ++done;
  }
  EXPECT_EQ(done, 5);

  auto ctx = Context(kAdminToken);
  moe4::v1::GetRequest get;
  get.set_campaign_id(sub.campaign_id());
  moe4::v1::GetResponse status;
  ASSERT_TRUE(campaign_->Get(ctx.get(), get, &status).ok());
  EXPECT_EQ(status.campaign().succeeded(), 5);
  EXPECT_EQ(status.campaign().state(), moe4::v1::CAMPAIGN_STATE_DONE);
  EXPECT_EQ(status.epochs_done(), 10);
  EXPECT_EQ(status.epochs_total(), 10);
  EXPECT_EQ(status.pending_reason(), "");
  EXPECT_NEAR(status.campaign().best_test_accuracy(), 0.9, 1e-9);

  moe4::v1::LeaderboardRequest lbr;
  lbr.set_campaign_id(sub.campaign_id());
  lbr.set_top(3);
  moe4::v1::LeaderboardResponse lb;
  auto ctx2 = Context(kAdminToken);
  ASSERT_TRUE(campaign_->Leaderboard(ctx2.get(), lbr, &lb).ok());
  ASSERT_EQ(lb.entries_size(), 3);
  EXPECT_NEAR(lb.entries(0).final_test_accuracy(), 0.9, 1e-9);
  EXPECT_GE(lb.entries(0).final_test_accuracy(), lb.entries(1).final_test_accuracy());
  EXPECT_EQ(lb.entries(0).epochs_done(), 2);
  EXPECT_EQ(lb.entries(0).state(), moe4::v1::JOB_STATE_SUCCEEDED);

  moe4::v1::FamilyStatsRequest fsr;
  fsr.set_campaign_id(sub.campaign_id());
  moe4::v1::FamilyStatsResponse fs;
  auto ctx3 = Context(kAdminToken);
  ASSERT_TRUE(campaign_->FamilyStats(ctx3.get(), fsr, &fs).ok());
  int n = 0;
  for (const auto& f : fs.families()) n += f.n();
  EXPECT_EQ(n, 10);  // 5 jobs x K=2

  moe4::v1::CoverageRequest cr;
  cr.set_campaign_id(sub.campaign_id());
  moe4::v1::CoverageResponse cov;
  auto ctx4 = Context(kAdminToken);
  ASSERT_TRUE(campaign_->Coverage(ctx4.get(), cr, &cov).ok());
  EXPECT_EQ(cov.candidates(), 5);
  EXPECT_EQ(cov.pairs_total(), 10);

  moe4::v1::ListWorkersResponse workers;
  auto ctx5 = Context(kAdminToken);
  ASSERT_TRUE(campaign_->ListWorkers(ctx5.get(), {}, &workers).ok());
  ASSERT_EQ(workers.workers_size(), 1);
  EXPECT_EQ(workers.workers(0).name(), "box1-gpu0");
  EXPECT_TRUE(workers.workers(0).alive());

  moe4::v1::ListResponse list;
  auto ctx6 = Context(kAdminToken);
  ASSERT_TRUE(campaign_->List(ctx6.get(), {}, &list).ok());
  ASSERT_EQ(list.campaigns_size(), 1);
  EXPECT_EQ(list.campaigns(0).name(), "test-campaign");
}

TEST_F(ServiceTest, InvalidRequestsNameTheField) {
  moe4::v1::RegisterRequest reg;
  reg.set_name("");
  reg.set_device_kind("cpu");
  moe4::v1::RegisterResponse resp;
  auto ctx = Context(kWorkerToken);
  grpc::Status s = worker_->Register(ctx.get(), reg, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("name"), std::string::npos) << s.error_message();

  reg.set_name("ok");
  reg.set_device_kind("tpu");
  auto ctx2 = Context(kWorkerToken);
  s = worker_->Register(ctx2.get(), reg, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("device_kind"), std::string::npos);

  moe4::v1::LeaseRequest lease;
  lease.set_worker_id(1);
  lease.set_free_memory_mb(-1);
  moe4::v1::LeaseResponse leased;
  auto ctx_lease = Context(kWorkerToken);
  s = worker_->Lease(ctx_lease.get(), lease, &leased);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("free_memory_mb"), std::string::npos) << s.error_message();

  moe4::v1::FailRequest fail;
  fail.set_worker_id(1);
  fail.set_job_id(1);
  fail.set_attempt(1);
  fail.set_kind(static_cast<moe4::v1::FailureKind>(99));
  moe4::v1::FailResponse failed;
  auto ctx_fail = Context(kWorkerToken);
  s = worker_->Fail(ctx_fail.get(), fail, &failed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("kind"), std::string::npos) << s.error_message();
  fail.set_kind(moe4::v1::FAILURE_KIND_OUT_OF_MEMORY);
  fail.set_memory_needed_mb(-5);
  auto ctx_fail2 = Context(kWorkerToken);
  s = worker_->Fail(ctx_fail2.get(), fail, &failed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("memory_needed_mb"), std::string::npos) << s.error_message();

  // Skipped-file counts: keys become jsonb keys (no NUL), counts are >= 1.
  for (const auto& [key, count, field] : std::vector<std::tuple<std::string, int, std::string>>{
           {std::string("train/c\0at", 10), 1, "epochs[0].skipped_images key"},
           {"", 1, "epochs[0].skipped_images key"},
           {std::string(600, 'x'), 1, "epochs[0].skipped_images key"},
           {"train/cat", 0, "epochs[0].skipped_images[train/cat]"}}) {
    moe4::v1::ReportEpochsRequest report;
    report.set_worker_id(1);
    report.set_job_id(1);
    report.set_attempt(1);
    moe4::v1::EpochMetrics* epoch = report.add_epochs();
    epoch->set_epoch(1);
    (*epoch->mutable_skipped_images())[key] = count;
    moe4::v1::ReportEpochsResponse reported;
    auto ctx_report = Context(kWorkerToken);
    s = worker_->ReportEpochs(ctx_report.get(), report, &reported);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_NE(s.error_message().find(field), std::string::npos) << s.error_message();
  }

  moe4::v1::SubmitResponse sub;
  s = Submit("name: x\nfamilies: [AirNet, Resnet]\nk: 2\nbudget: 1\n", false, &sub);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("families[1]"), std::string::npos) << s.error_message();

  moe4::v1::LeaderboardRequest lbr;
  lbr.set_campaign_id(1);
  lbr.set_by("worst");
  moe4::v1::LeaderboardResponse lb;
  auto ctx3 = Context(kAdminToken);
  s = campaign_->Leaderboard(ctx3.get(), lbr, &lb);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Ranking by the best epoch's test accuracy would select on the test set.
  lbr.set_by("best");
  auto ctx_best = Context(kAdminToken);
  s = campaign_->Leaderboard(ctx_best.get(), lbr, &lb);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("selects on the test set"), std::string::npos) << s.error_message();

  moe4::v1::GetRequest get;
  get.set_campaign_id(12345);
  moe4::v1::GetResponse got;
  auto ctx4 = Context(kAdminToken);
  EXPECT_EQ(campaign_->Get(ctx4.get(), get, &got).error_code(), grpc::StatusCode::NOT_FOUND);

  // Beyond the receive limit: refused by gRPC before any handler runs.
  moe4::v1::SubmitRequest huge;
  huge.set_spec_yaml(std::string(5 * 1024 * 1024, '#'));
  moe4::v1::SubmitResponse huge_resp;
  auto ctx5 = Context(kAdminToken);
  EXPECT_EQ(campaign_->Submit(ctx5.get(), huge, &huge_resp).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// What a starting worker asks about its checkpoint files: finished and
// unknown jobs are obsolete, a job that may still run is not.
TEST_F(ServiceTest, ObsoleteJobsAreTheFinishedAndTheUnknownOnes) {
  testing::SpecOptions spec;
  spec.budget = 2;
  spec.epochs = 1;
  moe4::v1::SubmitResponse submitted;
  ASSERT_TRUE(Submit(testing::SpecYaml(spec), false, &submitted).ok());
  const int64_t w = Register("sweeper");
  moe4::v1::LeaseResponse first, second;
  ASSERT_TRUE(Lease(w, &first).ok());
  ASSERT_TRUE(first.has_job());
  ASSERT_TRUE(ReportEpoch(w, first.job(), 1, 0.5).ok());
  ASSERT_TRUE(CompleteJob(w, first.job(), 0.5).ok());
  ASSERT_TRUE(Lease(w, &second).ok());  // leased: may still write its checkpoint
  ASSERT_TRUE(second.has_job());

  moe4::v1::ObsoleteJobsRequest req;
  req.set_worker_id(w);
  for (int64_t id : {second.job().job_id(), first.job().job_id(), int64_t{987654}}) req.add_job_ids(id);
  moe4::v1::ObsoleteJobsResponse resp;
  auto ctx = Context(kWorkerToken);
  ASSERT_TRUE(worker_->ObsoleteJobs(ctx.get(), req, &resp).ok());
  EXPECT_EQ(std::vector<int64_t>(resp.obsolete_job_ids().begin(), resp.obsolete_job_ids().end()),
            (std::vector<int64_t>{first.job().job_id(), 987654}));

  // Bounded and checked like every worker call, and authenticated.
  req.add_job_ids(-3);
  auto bad = Context(kWorkerToken);
  grpc::Status s = worker_->ObsoleteJobs(bad.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("job_ids[3]"), std::string::npos) << s.error_message();
  moe4::v1::ObsoleteJobsRequest many;
  many.set_worker_id(w);
  for (int i = 1; i <= 10001; ++i) many.add_job_ids(i);
  auto big = Context(kWorkerToken);
  s = worker_->ObsoleteJobs(big.get(), many, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("job_ids size"), std::string::npos) << s.error_message();
  auto stranger = Context("wrong-token");
  EXPECT_EQ(worker_->ObsoleteJobs(stranger.get(), moe4::v1::ObsoleteJobsRequest(), &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ServiceTest, PendingReasonExplainsUnmatchedRequirements) {
  SpecOptions spec;
  spec.budget = 3;
  spec.device_kind = "cuda";
  moe4::v1::SubmitResponse sub;
  ASSERT_TRUE(Submit(SpecYaml(spec), false, &sub).ok());
  const int64_t w1 = Register("cpu-a");
  const int64_t w2 = Register("cpu-b");
  for (int64_t w : {w1, w2}) {
    moe4::v1::LeaseResponse lease;
    ASSERT_TRUE(Lease(w, &lease).ok());
    EXPECT_FALSE(lease.has_job());
  }
  auto ctx = Context(kAdminToken);
  moe4::v1::GetRequest get;
  get.set_campaign_id(sub.campaign_id());
  moe4::v1::GetResponse status;
  ASSERT_TRUE(campaign_->Get(ctx.get(), get, &status).ok());
  EXPECT_EQ(status.pending_reason(), "3 pending jobs need device_kind=cuda; live workers: 2 cpu");
  EXPECT_EQ(status.live_workers(), 2);
}

TEST_F(ServiceTest, CancelPauseResumeAndHeartbeatCancel) {
  SpecOptions spec;
  spec.budget = 4;
  moe4::v1::SubmitResponse sub;
  ASSERT_TRUE(Submit(SpecYaml(spec), false, &sub).ok());
  const int64_t w = Register("w");
  moe4::v1::LeaseResponse lease;
  ASSERT_TRUE(Lease(w, &lease).ok());
  ASSERT_TRUE(lease.has_job());

  moe4::v1::HeartbeatResponse hb;
  ASSERT_TRUE(Heartbeat(w, lease.job(), &hb).ok());
  EXPECT_FALSE(hb.cancel());
  EXPECT_GT(hb.lease_deadline_unix_ms(), 0);

  auto ctx = Context(kAdminToken);
  moe4::v1::PauseRequest pause;
  pause.set_campaign_id(sub.campaign_id());
  moe4::v1::PauseResponse pause_resp;
  ASSERT_TRUE(campaign_->Pause(ctx.get(), pause, &pause_resp).ok());
  ASSERT_TRUE(Heartbeat(w, lease.job(), &hb).ok());
  EXPECT_TRUE(hb.cancel());

  auto ctx2 = Context(kAdminToken);
  moe4::v1::GetRequest get;
  get.set_campaign_id(sub.campaign_id());
  moe4::v1::GetResponse status;
  ASSERT_TRUE(campaign_->Get(ctx2.get(), get, &status).ok());
  EXPECT_EQ(status.campaign().state(), moe4::v1::CAMPAIGN_STATE_PAUSED);
  EXPECT_NE(status.pending_reason().find("paused"), std::string::npos);

  auto ctx3 = Context(kAdminToken);
  moe4::v1::ResumeRequest resume;
  resume.set_campaign_id(sub.campaign_id());
  moe4::v1::ResumeResponse resume_resp;
  ASSERT_TRUE(campaign_->Resume(ctx3.get(), resume, &resume_resp).ok());
  ASSERT_TRUE(Lease(w, &lease).ok());
  ASSERT_TRUE(lease.has_job());

  auto ctx4 = Context(kAdminToken);
  moe4::v1::CancelRequest cancel;
  cancel.set_campaign_id(sub.campaign_id());
  moe4::v1::CancelResponse cancel_resp;
  ASSERT_TRUE(campaign_->Cancel(ctx4.get(), cancel, &cancel_resp).ok());
  EXPECT_EQ(cancel_resp.jobs_cancelled(), 4);
  ASSERT_TRUE(Heartbeat(w, lease.job(), &hb).ok());
  EXPECT_TRUE(hb.cancel());
}

TEST_F(ServiceTest, WatchStreamsUntilTheCampaignIsDone) {
  SpecOptions spec;
  spec.budget = 2;
  spec.epochs = 1;
  moe4::v1::SubmitResponse sub;
  ASSERT_TRUE(Submit(SpecYaml(spec), false, &sub).ok());

  std::vector<moe4::v1::WatchResponse> seen;
  grpc::Status watch_status;
  std::thread watcher([&] {
    auto ctx = Context(kAdminToken);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    moe4::v1::WatchRequest req;
    req.set_campaign_id(sub.campaign_id());
    auto reader = campaign_->Watch(ctx.get(), req);
    moe4::v1::WatchResponse r;
    while (reader->Read(&r)) seen.push_back(r);
    watch_status = reader->Finish();
  });
  const int64_t w = Register("w");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 2; ++i) {
    moe4::v1::LeaseResponse lease;
    ASSERT_TRUE(Lease(w, &lease).ok());
    ASSERT_TRUE(lease.has_job());
    ASSERT_TRUE(ReportEpoch(w, lease.job(), 1, 0.6).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_TRUE(CompleteJob(w, lease.job(), 0.6).ok());
  }
  watcher.join();
  EXPECT_TRUE(watch_status.ok()) << watch_status.error_message();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front().status().campaign().pending(), 2);
  EXPECT_EQ(seen.back().status().campaign().state(), moe4::v1::CAMPAIGN_STATE_DONE);
  EXPECT_EQ(seen.back().status().campaign().succeeded(), 2);
}

TEST_F(ServiceTest, HealthzAndMetricsCountFencedWrites) {
  SpecOptions spec;
  spec.budget = 1;
  moe4::v1::SubmitResponse sub;
  ASSERT_TRUE(Submit(SpecYaml(spec), false, &sub).ok());
  const int64_t w = Register("w");
  moe4::v1::LeaseResponse lease;
  ASSERT_TRUE(Lease(w, &lease).ok());
  ASSERT_TRUE(lease.has_job());
  ASSERT_TRUE(ReportEpoch(w, lease.job(), 1, 0.5).ok());
  auto stale = lease.job();
  stale.set_attempt(stale.attempt() + 7);
  EXPECT_EQ(CompleteJob(w, stale, 0.5).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  auto [code, body] = HttpGet(server_->http_port(), "/healthz");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(HttpGet(server_->http_port(), "/readyz").first, 200);
  auto [mcode, metrics] = HttpGet(server_->http_port(), "/metrics");
  EXPECT_EQ(mcode, 200);
  EXPECT_NE(metrics.find("moe4_fenced_writes_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("moe4_leases_granted_total 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("moe4_epoch_rows_written_total 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("moe4_jobs{state=\"running\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("moe4_rpc_duration_seconds_count{method=\"WorkerService/Lease\"} 1"),
            std::string::npos);
  // prometheus-cpp writes a series' labels sorted by name (code, method).
  EXPECT_NE(metrics.find("moe4_rpcs_total{code=\"FAILED_PRECONDITION\",method=\"WorkerService/Complete\"} 1\n"),
            std::string::npos);
  EXPECT_NE(metrics.find("moe4_rpcs_total{code=\"OK\",method=\"WorkerService/Lease\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("moe4_database_up 1\n"), std::string::npos);
  // Every family the hand-written exposition had, with its type: dashboards
  // and alerts keep working (docs/deploy.md, "Metrics").
  std::set<std::string> families;
  for (size_t at = metrics.find("# TYPE "); at != std::string::npos; at = metrics.find("# TYPE ", at + 1)) {
    families.insert(metrics.substr(at + 7, metrics.find('\n', at) - at - 7));
  }
  EXPECT_EQ(families, (std::set<std::string>{
                          "moe4_database_up gauge", "moe4_jobs gauge", "moe4_leases_granted_total counter",
                          "moe4_leases_expired_total counter", "moe4_jobs_timed_out_total counter",
                          "moe4_fenced_writes_total counter", "moe4_epoch_rows_written_total counter",
                          "moe4_rpcs_total counter", "moe4_rpc_duration_seconds histogram"}))
      << metrics;
  EXPECT_EQ(HttpGet(server_->http_port(), "/nope").first, 404);
}

TEST_F(ServiceTest, ReaperRequeuesAnAbandonedLease) {
  // The fixture's lease is short for this test.
  server_.reset();
  CoordinatorOptions o = Options();
  o.lease = absl::Seconds(1);
  auto s = CoordinatorServer::Start(o);
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);
  Connect();

  SpecOptions spec;
  spec.budget = 1;
  moe4::v1::SubmitResponse sub;
  ASSERT_TRUE(Submit(SpecYaml(spec), false, &sub).ok());
  const int64_t w = Register("w");
  moe4::v1::LeaseResponse first;
  ASSERT_TRUE(Lease(w, &first).ok());
  ASSERT_TRUE(first.has_job());
  // Abandon it; the reaper gives it back within lease + reaper interval.
  moe4::v1::LeaseResponse second;
  for (int i = 0; i < 50 && !second.has_job(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(Lease(w, &second).ok());
  }
  ASSERT_TRUE(second.has_job());
  EXPECT_EQ(second.job().job_id(), first.job().job_id());
  EXPECT_EQ(second.job().attempt(), 2);
}

}  // namespace
}  // namespace moe4::coordinator
