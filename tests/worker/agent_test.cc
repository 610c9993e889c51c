// The daemon's agent against an in-process fake coordinator (real gRPC over
// localhost): the whole lease -> train -> report -> complete cycle, outages,
// fencing, cancellation, shutdown and resume.
#include "worker/agent/agent.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "fake_coordinator.h"
#include "scrape.h"
#include "test_util.h"
#include "worker/agent/metrics_endpoint.h"

namespace moe4::worker {
namespace {

using testing::FakeCoordinator;
using testing::LoopbackServer;
using testing::ScratchDir;
using testing::TinyJob;
using testing::WorkerBinary;
namespace v1 = moe4::v1;

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<LoopbackServer>(&fake_);
    ASSERT_TRUE(server_->ok());
  }
  void TearDown() override {
    if (agent_) agent_->RequestShutdown();
    if (thread_.joinable()) thread_.join();
    server_->Shutdown();
  }

  void StartAgent(const std::string& token = "secret", const std::function<void(AgentOptions&)>& adjust = {},
                  const FamilyRegistry& registry = BuiltinRegistry()) {
    auto channel = server_->Channel();
    client_ = std::make_unique<CoordinatorClient>(channel, token, std::chrono::seconds(5));
    AgentOptions options;
    options.name = "test-cpu";
    options.threads = 2;
    options.checkpoint_dir = dir_.path();
    options.idle_poll = std::chrono::milliseconds(20);
    options.max_backoff = std::chrono::milliseconds(200);
    options.shutdown_grace = std::chrono::seconds(2);
    if (adjust) adjust(options);
    agent_ = std::make_unique<Agent>(*client_, registry, options);
    thread_ = std::thread([this] { exit_code_ = agent_->Run(); });
  }

  int StopAgent() {
    agent_->RequestShutdown();
    thread_.join();
    return exit_code_;
  }

  // Polls `done` (under the fake's lock) for up to `seconds`.
  bool WaitFor(const std::function<bool()>& done, double seconds = 60) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(fake_.mu);
        if (done()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  ScratchDir dir_;
  FakeCoordinator fake_;
  std::unique_ptr<LoopbackServer> server_;
  std::unique_ptr<CoordinatorClient> client_;
  std::unique_ptr<Agent> agent_;
  std::thread thread_;
  int exit_code_ = -1;
};

TEST_F(AgentTest, RunsAJobEndToEndDeliveringEveryEpochOnceInOrderDespiteAnOutage) {
  fake_.jobs.push_back(TinyJob({"AlexNet", "BagNet"}, 3, 96, 32));
  fake_.unavailable_reports = 1;  // epoch 1's report bounces: buffered, sent later
  StartAgent();
  ASSERT_TRUE(WaitFor([&] { return !fake_.completes.empty(); }));
  EXPECT_EQ(StopAgent(), kExitOk);

  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.registered_name, "test-cpu");
  EXPECT_EQ(fake_.registered_kind, "cpu");
  EXPECT_EQ(fake_.unauthorised, 0);
  ASSERT_EQ(fake_.stored.size(), 3u);
  EXPECT_EQ(fake_.arrival, (std::vector<int>{1, 2, 3}));  // in order, each once
  EXPECT_EQ(fake_.conflicts, 0);
  ASSERT_EQ(fake_.completes.size(), 1u);
  const auto& done = fake_.completes[0];
  EXPECT_EQ(done.job_id(), 7);
  EXPECT_EQ(done.attempt(), 1);
  EXPECT_EQ(done.worker_id(), 5);
  EXPECT_DOUBLE_EQ(done.final_test_accuracy(), fake_.stored.at(3).test_accuracy());
  EXPECT_GT(done.parameter_count(), 0);
  EXPECT_GT(done.train_seconds(), 0);
  EXPECT_TRUE(fake_.fails.empty());
  // Finished jobs leave nothing behind.
  EXPECT_FALSE(std::filesystem::exists(dir_.File("job-7.pt")));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("job-7.reports")));
}

// moe4-worker --http-listen: the daemon's counts, scraped over HTTP while a
// job trains (from inside the fake's ReportEpochs) and after it completed.
TEST_F(AgentTest, MetricsEndpointShowsTheRunningJobItsEpochsAndRetries) {
  fake_.jobs.push_back(TinyJob({"AlexNet", "BagNet"}, 3, 96, 32));
  fake_.unavailable_leases = 1;  // one Lease retried
  auto metrics = std::make_shared<WorkerMetrics>("test-cpu", "cpu");
  auto endpoint = MetricsEndpoint::Start("127.0.0.1:0", metrics->registry());
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  const int port = (*endpoint)->port();
  std::vector<std::string> during;  // one scrape per epoch stored
  fake_.on_epoch_stored = [&](int) { during.push_back(testing::HttpGet(port, "/metrics").body); };
  StartAgent("secret", [&](AgentOptions& o) { o.metrics = metrics; });
  ASSERT_TRUE(WaitFor([&] { return !fake_.completes.empty(); }));
  // The job's slot is released just after Complete returns.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (metrics->jobs_running() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::string after = testing::HttpGet(port, "/metrics").body;
  EXPECT_EQ(StopAgent(), kExitOk);

  std::lock_guard<std::mutex> lock(fake_.mu);
  ASSERT_EQ(during.size(), 3u);
  for (size_t i = 0; i < during.size(); ++i) {
    EXPECT_EQ(testing::SeriesValue(during[i], "moe4_worker_jobs_running"), 1.0) << during[i];
    EXPECT_EQ(testing::SeriesValue(during[i], "moe4_worker_epochs_total"), static_cast<double>(i + 1));
    EXPECT_GT(testing::SeriesValue(during[i], "moe4_worker_images_per_second").value_or(0), 0.0);
    // The host's memory (a CPU worker), and what its job reserves.
    EXPECT_GT(testing::SeriesValue(during[i], "moe4_worker_device_memory_registered_bytes").value_or(0), 0.0);
    EXPECT_GT(testing::SeriesValue(during[i], "moe4_worker_device_memory_free_bytes").value_or(0), 0.0);
  }
  EXPECT_EQ(testing::SeriesValue(after, "moe4_worker_jobs_running"), 0.0) << after;
  EXPECT_EQ(testing::SeriesValue(after, "moe4_worker_epochs_total"), 3.0);
  EXPECT_EQ(testing::SeriesValue(after, "moe4_worker_jobs_completed_total"), 1.0);
  EXPECT_EQ(testing::SeriesValue(after, "moe4_worker_jobs_failed_total{retryable=\"true\"}"), 0.0);
  EXPECT_EQ(testing::SeriesValue(after, "moe4_worker_rpc_retries_total{method=\"Lease\"}"), 1.0);
  EXPECT_EQ(testing::SeriesValue(after, "moe4_worker_device_memory_reserved_bytes"), 0.0);
}

TEST_F(AgentTest, SeveralJobsPerDeviceRunAtOnceEachDeliveringItsEpochsInOrder) {
  for (int64_t id : {11, 12, 13}) {
    auto job = TinyJob({"AlexNet", "ResNet"}, 3, 256, 64);
    job.set_job_id(id);
    fake_.jobs.push_back(job);
  }
  StartAgent("secret", [](AgentOptions& o) {
    o.jobs_per_device = 2;
    o.threads = 1;
  });
  ASSERT_TRUE(WaitFor([&] { return fake_.completes.size() == 3; }, 180));
  EXPECT_EQ(StopAgent(), kExitOk);
  EXPECT_EQ(agent_->max_concurrent_jobs(), 2);  // two at a time, never more
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_TRUE(fake_.fails.empty());
  for (int64_t id : {11, 12, 13}) EXPECT_EQ(fake_.epochs_by_job[id], (std::vector<int>{1, 2, 3})) << "job " << id;
  // Every lease said how much memory was free for one more job (the host's
  // available memory here, less what running jobs reserve).
  ASSERT_FALSE(fake_.free_memory_seen.empty());
  for (const int64_t mb : fake_.free_memory_seen) EXPECT_GT(mb, 0);
}

TEST_F(AgentTest, OutOfMemoryIsReportedAsSuchWithTheMemoryNeededAndTheDaemonLeasesOn) {
  FamilyRegistry registry = BuiltinRegistry();
  // Its forward asks the CPU allocator for a pebibyte: a real allocation failure.
  struct HungryImpl : torch::nn::Module {
    explicit HungryImpl(const ExpertOptions& o) : fc(register_module("fc", torch::nn::Linear(o.in_channels, o.num_classes))) {}
    torch::Tensor forward(const torch::Tensor& x) {
      return fc(x.mean({2, 3})) + torch::empty({int64_t{1} << 50}, torch::kByte).sum().to(torch::kFloat);
    }
    torch::nn::Linear fc;
  };
  registry.Register("Hungry", [](const ExpertOptions& o) { return torch::nn::AnyModule(std::make_shared<HungryImpl>(o)); });
  auto hungry = TinyJob({"Hungry"}, 2, 64, 32);
  hungry.set_job_id(21);
  auto fine = TinyJob({"AlexNet"}, 1, 64, 32);
  fine.set_job_id(22);
  fake_.jobs = {hungry, fine};
  StartAgent("secret", {}, registry);
  ASSERT_TRUE(WaitFor([&] { return !fake_.completes.empty(); }));
  EXPECT_EQ(StopAgent(), kExitOk);
  std::lock_guard<std::mutex> lock(fake_.mu);
  ASSERT_EQ(fake_.fails.size(), 1u);
  const auto& fail = fake_.fails[0];
  EXPECT_EQ(fail.job_id(), 21);
  EXPECT_EQ(fail.kind(), v1::FAILURE_KIND_OUT_OF_MEMORY);
  EXPECT_TRUE(fail.retryable());
  // More than what was free for it when it was leased.
  ASSERT_FALSE(fake_.free_memory_seen.empty());
  EXPECT_EQ(fail.memory_needed_mb(), fake_.free_memory_seen[0] + 1);
  EXPECT_EQ(fail.reason().rfind("out of memory: needed more than", 0), 0u) << fail.reason();
  EXPECT_EQ(fake_.completes.at(0).job_id(), 22);  // the daemon lived on and took the next job
}

TEST_F(AgentTest, InATrainerProcessAnAbortFailsTheJobAndTheDaemonRunsItsNextAttempt) {
  ASSERT_EQ(::setenv(kTrainerFailpointEnv, "abort_in_first_attempt", 1), 0);
  auto first = TinyJob({"AlexNet"}, 3, 64, 32);
  first.set_job_id(31);
  auto second = first;
  second.set_attempt(2);
  second.set_resume_from_epoch(1);  // epoch 1 of the first attempt was stored
  fake_.jobs = {first, second};
  StartAgent("secret", [](AgentOptions& o) {
    o.job_isolation = JobIsolation::kProcess;
    o.trainer_executable = WorkerBinary();
    o.log_level = "warn";
  });
  const bool completed = WaitFor([&] { return !fake_.completes.empty(); }, 120);
  ::unsetenv(kTrainerFailpointEnv);
  ASSERT_TRUE(completed);
  EXPECT_EQ(StopAgent(), kExitOk);
  std::lock_guard<std::mutex> lock(fake_.mu);
  ASSERT_EQ(fake_.fails.size(), 1u);
  EXPECT_EQ(fake_.fails[0].attempt(), 1);
  EXPECT_TRUE(fake_.fails[0].retryable());
  EXPECT_NE(fake_.fails[0].reason().find("died of SIGABRT"), std::string::npos) << fake_.fails[0].reason();
  ASSERT_EQ(fake_.completes.size(), 1u);
  EXPECT_EQ(fake_.completes[0].attempt(), 2);
  // Epoch 1 from the first attempt, then 2 and 3 from the second (resumed
  // from the checkpoint the aborted process left), each once.
  EXPECT_EQ(fake_.epochs_by_job[31], (std::vector<int>{1, 2, 3}));
}

TEST_F(AgentTest, RejectedEpochReportFailsTheJobAtOnceWithTheCoordinatorsAnswer) {
  fake_.jobs.push_back(TinyJob({"AlexNet"}, 6, 64, 32));
  fake_.reject_reports_from_epoch = 2;
  StartAgent();
  ASSERT_TRUE(WaitFor([&] { return !fake_.fails.empty(); }));
  EXPECT_EQ(StopAgent(), kExitOk);
  std::lock_guard<std::mutex> lock(fake_.mu);
  ASSERT_EQ(fake_.fails.size(), 1u);
  const auto& fail = fake_.fails[0];
  EXPECT_FALSE(fail.retryable());  // the same report would be refused again
  EXPECT_NE(fail.reason().find("epoch report rejected by the coordinator"), std::string::npos) << fail.reason();
  EXPECT_NE(fail.reason().find("gate_mean: 3 values for 2 experts"), std::string::npos) << fail.reason();
  EXPECT_EQ(fake_.rejected_reports, 1);  // refused once, not resent
  EXPECT_LT(fake_.stored.size(), 6u);    // stopped long before the end
  EXPECT_TRUE(fake_.completes.empty());
  EXPECT_FALSE(std::filesystem::exists(dir_.File("job-7.pt")));
}

TEST_F(AgentTest, DeterministicServerErrorOnCompleteEndsInAFailureWithTheRealReason) {
  fake_.jobs.push_back(TinyJob({"AlexNet"}, 1, 64, 32));
  fake_.internal_completes = true;
  StartAgent("secret", [](AgentOptions& o) {
    o.suspect_retry_budget = 4;
    o.max_backoff = std::chrono::milliseconds(40);
  });
  ASSERT_TRUE(WaitFor([&] { return !fake_.fails.empty(); }));
  EXPECT_EQ(StopAgent(), kExitOk);
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.complete_calls, 4);  // the budget, then no more
  ASSERT_EQ(fake_.fails.size(), 1u);
  EXPECT_NE(fake_.fails[0].reason().find("selected_epoch"), std::string::npos) << fake_.fails[0].reason();
  EXPECT_TRUE(fake_.completes.empty());
}

TEST(RpcErrorClassTest, EveryCodeHasAClass) {
  EXPECT_EQ(ClassifyRpcError({grpc::StatusCode::UNAVAILABLE, ""}), RpcErrorClass::kTransient);
  EXPECT_EQ(ClassifyRpcError({grpc::StatusCode::DEADLINE_EXCEEDED, ""}), RpcErrorClass::kTransient);
  EXPECT_EQ(ClassifyRpcError({grpc::StatusCode::ABORTED, ""}), RpcErrorClass::kTransient);
  EXPECT_EQ(ClassifyRpcError({grpc::StatusCode::INTERNAL, ""}), RpcErrorClass::kSuspect);
  EXPECT_EQ(ClassifyRpcError({grpc::StatusCode::UNKNOWN, ""}), RpcErrorClass::kSuspect);
  EXPECT_EQ(ClassifyRpcError({grpc::StatusCode::FAILED_PRECONDITION, ""}), RpcErrorClass::kFenced);
  EXPECT_EQ(ClassifyRpcError({grpc::StatusCode::NOT_FOUND, ""}), RpcErrorClass::kFenced);
  EXPECT_EQ(ClassifyRpcError({grpc::StatusCode::UNAUTHENTICATED, ""}), RpcErrorClass::kAuth);
  EXPECT_EQ(ClassifyRpcError({grpc::StatusCode::INVALID_ARGUMENT, ""}), RpcErrorClass::kPermanent);
  EXPECT_EQ(ClassifyRpcError({grpc::StatusCode::OUT_OF_RANGE, ""}), RpcErrorClass::kPermanent);
  EXPECT_TRUE(IsTransient({grpc::StatusCode::INTERNAL, ""}));
  EXPECT_FALSE(IsTransient({grpc::StatusCode::INVALID_ARGUMENT, ""}));
}

TEST_F(AgentTest, FencedAttemptIsAbandonedAndTheWorkerLeasesAgain) {
  fake_.jobs.push_back(TinyJob({"AlexNet"}, 5, 64, 32));
  fake_.fence = true;
  StartAgent();
  int leases_before = 0;
  ASSERT_TRUE(WaitFor([&] {
    leases_before = fake_.leases;
    return fake_.jobs.empty();
  }));
  // After the first epoch's report is refused the agent must lease again.
  ASSERT_TRUE(WaitFor([&] { return fake_.leases > leases_before + 2; }));
  EXPECT_EQ(StopAgent(), kExitOk);
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_TRUE(fake_.completes.empty());
  EXPECT_TRUE(fake_.fails.empty());
  EXPECT_TRUE(fake_.stored.empty());
  EXPECT_EQ(agent_->jobs_abandoned(), 1);
}

TEST_F(AgentTest, HeartbeatCancelStopsTheJobWithoutResult) {
  auto job = TinyJob({"AlexNet"}, 1000, 64, 32);
  job.set_lease_seconds(3);  // a heartbeat every second
  fake_.jobs.push_back(job);
  fake_.cancel = true;
  StartAgent();
  ASSERT_TRUE(WaitFor([&] { return agent_->jobs_abandoned() == 1; }, 30));
  EXPECT_EQ(StopAgent(), kExitOk);
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_GE(fake_.heartbeats, 1);
  EXPECT_TRUE(fake_.completes.empty());
  EXPECT_TRUE(fake_.fails.empty());
}

// Each way the coordinator stops a job, and what stays on disk: a paused job
// keeps its checkpoint to resume from; cancelled, timed-out and fenced ones
// leave nothing behind.
TEST_F(AgentTest, CoordinatorStopsKeepOrRemoveTheCheckpointByReason) {
  struct Case {
    v1::StopReason reason;  // UNSPECIFIED with fence: the attempt is fenced instead
    bool fence;
    bool checkpoint_kept;
  } cases[] = {
      {v1::STOP_REASON_PAUSED, false, true},
      {v1::STOP_REASON_UNSPECIFIED, false, true},  // an older coordinator: treated as paused
      {v1::STOP_REASON_CANCELLED, false, false},
      {v1::STOP_REASON_TIMED_OUT, false, false},
      {v1::STOP_REASON_UNSPECIFIED, true, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(v1::StopReason_Name(c.reason) + (c.fence ? " (fenced)" : ""));
    auto job = TinyJob({"AlexNet"}, 1000, 64, 32);
    job.set_lease_seconds(3);  // a heartbeat every second
    {
      std::lock_guard<std::mutex> lock(fake_.mu);
      fake_.jobs.push_back(job);
      fake_.cancel = false;
      fake_.fence = false;
      fake_.stored.clear();
      // Stop once epoch 1 (and so its checkpoint) is on disk.
      fake_.on_epoch_stored = [&, c](int epoch) {
        if (epoch != 1) return;
        if (c.fence) {
          fake_.fence = true;
        } else {
          fake_.cancel = true;
          fake_.stop_reason = c.reason;
        }
      };
    }
    const int64_t abandoned_before = agent_ ? agent_->jobs_abandoned() : 0;
    if (!agent_) StartAgent();
    ASSERT_TRUE(WaitFor([&] { return agent_->jobs_abandoned() == abandoned_before + 1; }, 60));
    EXPECT_EQ(std::filesystem::exists(dir_.File("job-7.pt")), c.checkpoint_kept);
    EXPECT_FALSE(std::filesystem::exists(dir_.File("job-7.reports")));
    std::error_code ignored;
    std::filesystem::remove(dir_.File("job-7.pt"), ignored);
  }
  EXPECT_EQ(StopAgent(), kExitOk);
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_TRUE(fake_.completes.empty());
  EXPECT_TRUE(fake_.fails.empty());  // the coordinator decided each time: no writes
}

TEST_F(AgentTest, OwnTimeBudgetFailsWithoutRetryNamingTheReasonAndRemovesTheCheckpoint) {
  auto job = TinyJob({"AlexNet"}, 1000, 64, 32);
  job.set_max_job_seconds(1);
  fake_.jobs.push_back(job);
  StartAgent();
  ASSERT_TRUE(WaitFor([&] { return !fake_.fails.empty(); }, 60));
  EXPECT_EQ(StopAgent(), kExitOk);
  std::lock_guard<std::mutex> lock(fake_.mu);
  ASSERT_EQ(fake_.fails.size(), 1u);
  EXPECT_EQ(fake_.fails[0].reason(), "exceeded max_job_seconds (1 s)");  // not "cancelled by the coordinator"
  EXPECT_FALSE(fake_.fails[0].retryable());
  EXPECT_FALSE(std::filesystem::exists(dir_.File("job-7.pt")));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("job-7.reports")));
}

TEST(StopReasonTest, EveryReasonHasANameAndAnAction) {
  EXPECT_EQ(StopReasonName(StopReason::kPaused), "paused");
  EXPECT_EQ(StopReasonName(StopReason::kCancelled), "cancelled");
  EXPECT_EQ(StopReasonName(StopReason::kTimedOut), "timed out");
  EXPECT_EQ(StopReasonName(StopReason::kFenced), "fenced");
  EXPECT_EQ(StopReasonName(StopReason::kShutdown), "shutdown");
  EXPECT_EQ(StopReasonName(StopReason::kReportRejected), "report rejected");
  EXPECT_FALSE(StopActionFor(StopReason::kReportRejected).keep_checkpoint);
  EXPECT_FALSE(StopActionFor(StopReason::kReportRejected).runs_again);
  EXPECT_TRUE(StopActionFor(StopReason::kPaused).keep_checkpoint);
  EXPECT_TRUE(StopActionFor(StopReason::kShutdown).keep_checkpoint);
  EXPECT_FALSE(StopActionFor(StopReason::kCancelled).keep_checkpoint);
  EXPECT_FALSE(StopActionFor(StopReason::kTimedOut).keep_checkpoint);
  EXPECT_FALSE(StopActionFor(StopReason::kFenced).keep_checkpoint);
  EXPECT_TRUE(StopActionFor(StopReason::kShutdown).runs_again);
  EXPECT_FALSE(StopActionFor(StopReason::kTimedOut).runs_again);
  EXPECT_EQ(StopReasonFromProto(v1::STOP_REASON_CANCELLED), StopReason::kCancelled);
  EXPECT_EQ(StopReasonFromProto(v1::STOP_REASON_TIMED_OUT), StopReason::kTimedOut);
  EXPECT_EQ(StopReasonFromProto(v1::STOP_REASON_PAUSED), StopReason::kPaused);
  EXPECT_EQ(StopReasonFromProto(v1::STOP_REASON_UNSPECIFIED), StopReason::kPaused);
}

void WriteBytes(const std::string& path, size_t bytes) { std::ofstream(path, std::ios::binary) << std::string(bytes, 'x'); }

void Age(const std::string& path, std::chrono::seconds by) {
  std::filesystem::last_write_time(path, std::filesystem::file_time_type::clock::now() - by);
}

TEST(CheckpointDirTest, LimitRemovesOldestJobsButNeverTheRunningOne) {
  ScratchDir dir;
  CheckpointDir checkpoints(dir.path());
  WriteBytes(dir.File("job-1.pt"), 1000);
  WriteBytes(dir.File("job-1.reports"), 100);
  WriteBytes(dir.File("job-2.pt"), 1000);
  WriteBytes(dir.File("job-3.pt"), 1000);
  WriteBytes(dir.File("job-3.pt.tmp"), 500);  // a crash mid-write
  WriteBytes(dir.File("notes.txt"), 5000);    // not ours: never counted nor removed
  Age(dir.File("job-1.pt"), std::chrono::seconds(300));  // the running job, oldest of all
  Age(dir.File("job-1.reports"), std::chrono::seconds(300));
  Age(dir.File("job-3.pt"), std::chrono::seconds(200));
  Age(dir.File("job-3.pt.tmp"), std::chrono::seconds(200));
  Age(dir.File("job-2.pt"), std::chrono::seconds(100));
  EXPECT_EQ(checkpoints.UsageBytes(), 3600u);
  EXPECT_TRUE(checkpoints.EnforceLimit(0, {1}).empty());  // 0 = unlimited
  EXPECT_TRUE(checkpoints.EnforceLimit(3600, {1}).empty());
  EXPECT_EQ(checkpoints.EnforceLimit(2500, {1}), (std::vector<int64_t>{3}));  // oldest not running
  EXPECT_FALSE(std::filesystem::exists(dir.File("job-3.pt.tmp")));
  EXPECT_EQ(checkpoints.EnforceLimit(1, {1}), (std::vector<int64_t>{2}));
  EXPECT_TRUE(std::filesystem::exists(dir.File("job-1.pt")));  // running: kept though over the limit
  EXPECT_TRUE(std::filesystem::exists(dir.File("job-1.reports")));
  EXPECT_TRUE(std::filesystem::exists(dir.File("notes.txt")));
}

TEST(CheckpointDirTest, SweepRemovesJobsUntouchedForTheMaximumAge) {
  ScratchDir dir;
  CheckpointDir checkpoints(dir.path());
  WriteBytes(dir.File("job-10.pt"), 10);
  WriteBytes(dir.File("job-10.reports"), 10);
  WriteBytes(dir.File("job-11.pt"), 10);
  WriteBytes(dir.File("job-12.pt"), 10);
  WriteBytes(dir.File("job-x.pt"), 10);
  Age(dir.File("job-10.pt"), std::chrono::hours(200));
  Age(dir.File("job-10.reports"), std::chrono::hours(200));
  Age(dir.File("job-11.pt"), std::chrono::hours(200));
  Age(dir.File("job-x.pt"), std::chrono::hours(200));
  // job-12 is recent; job-11's checkpoint is old but nothing newer touched it.
  EXPECT_TRUE(checkpoints.SweepOlderThan(std::chrono::seconds(0)).empty());
  EXPECT_EQ(checkpoints.SweepOlderThan(std::chrono::hours(168)), (std::vector<int64_t>{10, 11}));
  EXPECT_FALSE(std::filesystem::exists(dir.File("job-10.reports")));
  EXPECT_TRUE(std::filesystem::exists(dir.File("job-12.pt")));
  EXPECT_TRUE(std::filesystem::exists(dir.File("job-x.pt")));
  EXPECT_TRUE(CheckpointDir(dir.File("missing")).SweepOlderThan(std::chrono::hours(1)).empty());
}

TEST_F(AgentTest, StartupSweepsOldCheckpointsAndTheLimitHoldsWhileTraining) {
  WriteBytes(dir_.File("job-90.pt"), 100);
  Age(dir_.File("job-90.pt"), std::chrono::hours(24 * 30));
  WriteBytes(dir_.File("job-91.pt"), 20'000'000);  // recent: a paused job of another campaign
  fake_.jobs.push_back(TinyJob({"AlexNet"}, 2, 64, 32));
  StartAgent("secret", [](AgentOptions& options) {
    options.checkpoint_max_age = std::chrono::hours(24 * 7);
    options.checkpoint_max_bytes = 10'000'000;  // room for the running job, not for job 91 too
  });
  ASSERT_TRUE(WaitFor([&] { return !fake_.completes.empty(); }));
  EXPECT_EQ(StopAgent(), kExitOk);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("job-90.pt")));  // swept at startup
  EXPECT_FALSE(std::filesystem::exists(dir_.File("job-91.pt")));  // evicted before job 7's checkpoint
  EXPECT_FALSE(std::filesystem::exists(dir_.File("job-7.pt")));   // completed
}

// Once registered, the daemon asks which of its checkpointed jobs are over
// and removes their files; the others (a paused job, one that runs
// elsewhere) stay, however old.
TEST_F(AgentTest, StartupRemovesTheCheckpointsOfJobsTheCoordinatorSaysAreOver) {
  WriteBytes(dir_.File("job-20.pt"), 100);
  WriteBytes(dir_.File("job-20.reports"), 10);
  WriteBytes(dir_.File("job-21.pt"), 100);
  Age(dir_.File("job-21.pt"), std::chrono::hours(24 * 30));
  WriteBytes(dir_.File("notes.txt"), 10);
  fake_.finished = {20, 99};
  StartAgent("secret", [](AgentOptions& options) { options.checkpoint_max_age = std::chrono::seconds(0); });
  ASSERT_TRUE(WaitFor([&] { return fake_.obsolete_calls > 0 && fake_.leases > 0; }));
  EXPECT_EQ(StopAgent(), kExitOk);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("job-20.pt")));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("job-20.reports")));
  EXPECT_TRUE(std::filesystem::exists(dir_.File("job-21.pt")));
  EXPECT_TRUE(std::filesystem::exists(dir_.File("notes.txt")));
  EXPECT_EQ(fake_.obsolete_calls, 1);
}

// An older coordinator without ObsoleteJobs: the files stay and the daemon
// works on.
TEST_F(AgentTest, ACoordinatorThatCannotSayWhichJobsAreOverLeavesTheFilesAndTheDaemonWorks) {
  WriteBytes(dir_.File("job-20.pt"), 100);
  fake_.finished = {20};
  fake_.obsolete_unimplemented = true;
  fake_.jobs.push_back(TinyJob({"AlexNet"}, 1, 64, 32));
  StartAgent();
  ASSERT_TRUE(WaitFor([&] { return !fake_.completes.empty(); }));
  EXPECT_EQ(StopAgent(), kExitOk);
  EXPECT_TRUE(std::filesystem::exists(dir_.File("job-20.pt")));
  EXPECT_EQ(fake_.obsolete_calls, 1);
}

TEST_F(AgentTest, ShutdownFailsRetryablyAndTheNextAttemptResumesFromTheCheckpoint) {
  auto job = TinyJob({"AlexNet", "AirNet"}, 3, 96, 32);
  fake_.jobs.push_back(job);
  fake_.on_epoch_stored = [&](int epoch) {
    if (epoch == 1) agent_->RequestShutdown();  // SIGTERM right after epoch 1
  };
  StartAgent();
  ASSERT_TRUE(WaitFor([&] { return !fake_.fails.empty(); }));
  thread_.join();
  EXPECT_EQ(exit_code_, kExitOk);
  {
    std::lock_guard<std::mutex> lock(fake_.mu);
    ASSERT_EQ(fake_.fails.size(), 1u);
    EXPECT_EQ(fake_.fails[0].reason(), "worker shutting down");
    EXPECT_TRUE(fake_.fails[0].retryable());
    EXPECT_EQ(fake_.stored.size(), 1u);
    EXPECT_TRUE(fake_.completes.empty());
    // The coordinator requeues it: attempt 2, resume after the stored epoch.
    job.set_attempt(2);
    job.set_resume_from_epoch(1);
    fake_.jobs.push_back(job);
    fake_.on_epoch_stored = nullptr;
  }
  ASSERT_TRUE(std::filesystem::exists(dir_.File("job-7.pt")));
  StartAgent();  // a restarted daemon with the same checkpoint directory
  ASSERT_TRUE(WaitFor([&] { return !fake_.completes.empty(); }));
  EXPECT_EQ(StopAgent(), kExitOk);
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.arrival, (std::vector<int>{1, 2, 3}));  // epoch 1 was not retrained
  EXPECT_EQ(fake_.conflicts, 0);
  EXPECT_EQ(fake_.completes[0].attempt(), 2);
}

TEST_F(AgentTest, InvalidJobFailsWithoutRetry) {
  fake_.jobs.push_back(TinyJob({"NoSuchNet"}, 1));
  StartAgent();
  ASSERT_TRUE(WaitFor([&] { return !fake_.fails.empty(); }));
  EXPECT_EQ(StopAgent(), kExitOk);
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_FALSE(fake_.fails[0].retryable());
  EXPECT_NE(fake_.fails[0].reason().find("unknown family 'NoSuchNet'"), std::string::npos) << fake_.fails[0].reason();
}

TEST_F(AgentTest, WrongTokenExitsWithAnError) {
  StartAgent("wrong");
  thread_.join();
  EXPECT_EQ(exit_code_, kExitUnauthenticated);
}

// A literal address skips the DNS resolver, whose 30 s re-resolution
// cooldown kept a worker cut off for seconds after a reset connection.
TEST(GrpcTargetTest, LiteralAddressesBypassTheDnsResolver) {
  EXPECT_EQ(GrpcTarget("127.0.0.1:50051"), "ipv4:127.0.0.1:50051");
  EXPECT_EQ(GrpcTarget("10.213.1.1:50051"), "ipv4:10.213.1.1:50051");
  EXPECT_EQ(GrpcTarget("[::1]:50051"), "ipv6:[::1]:50051");
  EXPECT_EQ(GrpcTarget("coordinator.lab:50051"), "coordinator.lab:50051");
  EXPECT_EQ(GrpcTarget("localhost:50051"), "localhost:50051");
  EXPECT_EQ(GrpcTarget("dns:///coordinator.lab:50051"), "dns:///coordinator.lab:50051");
  EXPECT_EQ(GrpcTarget("ipv4:127.0.0.1:50051"), "ipv4:127.0.0.1:50051");
  EXPECT_EQ(GrpcTarget("unix:/run/moe4.sock"), "unix:/run/moe4.sock");
  EXPECT_EQ(GrpcTarget("999.1.1.1:50051"), "999.1.1.1:50051");
}

}  // namespace
}  // namespace moe4::worker
