// Agent::JobRun's phases one at a time against the fake coordinator (real
// gRPC over localhost): Prepare, Train, Drain and Finalise, each checked for
// what it sends, in what order, and what it leaves on disk. Outcomes are
// built by hand where the phase under test does not train.
#include "worker/agent/job_run.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "fake_coordinator.h"
#include "test_util.h"

namespace moe4::worker {
namespace {

using testing::FakeCoordinator;
using testing::LoopbackServer;
using testing::ScratchDir;
using testing::TinyJob;
namespace v1 = moe4::v1;
using Strings = std::vector<std::string>;

v1::EpochMetrics Epoch(int epoch) {
  v1::EpochMetrics m;
  m.set_epoch(epoch);
  m.set_test_accuracy(0.01 * epoch);
  return m;
}

TrainOutcome Outcome(TrainOutcome::Kind kind, std::string reason = "") {
  TrainOutcome o;
  o.kind = kind;
  o.reason = std::move(reason);
  o.final_test_accuracy = 0.75;
  o.parameter_count = 1234;
  return o;
}

class JobRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<LoopbackServer>(&fake_);
    ASSERT_TRUE(server_->ok());
    fake_.current_attempt = 1;  // TinyJob's attempt, as if just leased
    auto channel = server_->Channel();
    client_ = std::make_unique<CoordinatorClient>(channel, "secret", std::chrono::seconds(5));
    std::filesystem::create_directories(dir_.File("data"));
    MakeAgent();
  }
  void TearDown() override { server_->Shutdown(); }

  // An agent that never runs its lease loop: the runs below drive one job.
  void MakeAgent(const std::function<void(AgentOptions&)>& adjust = {}) {
    AgentOptions options;
    options.name = "test-cpu";
    options.threads = 2;
    options.checkpoint_dir = dir_.path();
    options.data_root = dir_.File("data");
    options.max_backoff = std::chrono::milliseconds(40);
    options.shutdown_grace = std::chrono::seconds(2);
    if (adjust) adjust(options);
    agent_ = std::make_unique<Agent>(*client_, BuiltinRegistry(), options);
  }

  std::unique_ptr<Agent::JobRun> NewRun(v1::JobAssignment job, std::function<void()> on_admitted = {}) {
    return std::make_unique<Agent::JobRun>(*agent_, std::move(job), 0, std::move(on_admitted));
  }

  // What an earlier epoch left: job-7.pt (any bytes: only its presence matters here).
  void PlantCheckpoint() { std::ofstream(dir_.File("job-7.pt")) << "weights"; }
  bool CheckpointKept() const { return std::filesystem::exists(dir_.File("job-7.pt")); }
  bool ReportsFileLeft() const { return std::filesystem::exists(dir_.File("job-7.reports")); }

  template <typename Fn>
  auto Locked(Fn fn) {
    std::lock_guard<std::mutex> lock(fake_.mu);
    return fn();
  }

  ScratchDir dir_;
  FakeCoordinator fake_;
  std::unique_ptr<LoopbackServer> server_;
  std::unique_ptr<CoordinatorClient> client_;
  std::unique_ptr<Agent> agent_;
};

// --- Prepare ---------------------------------------------------------------

TEST_F(JobRunTest, PrepareFailsAnInvalidJobAtOnceWithoutRetry) {
  auto run = NewRun(TinyJob({"NoSuchNet"}, 1));
  EXPECT_FALSE(run->Prepare());
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.calls, Strings{"Fail"});
  EXPECT_FALSE(fake_.fails[0].retryable());
  EXPECT_EQ(fake_.fails[0].reason().rfind("invalid job: ", 0), 0u) << fake_.fails[0].reason();
  EXPECT_NE(fake_.fails[0].reason().find("unknown family 'NoSuchNet'"), std::string::npos);
  EXPECT_EQ(agent_->jobs_failed(), 1);
}

TEST_F(JobRunTest, PrepareFillsTheRecipeDefaultsAndClearsReportsAnEarlierAttemptLeft) {
  {
    ReportQueue left(dir_.File("job-7.reports"));
    ASSERT_TRUE(left.Push(Epoch(1)).ok());
    ASSERT_TRUE(left.Push(Epoch(2)).ok());
  }
  auto job = TinyJob({"AlexNet"}, 1);
  job.mutable_recipe()->set_batch_size(0);  // proto3's "unset": the design default
  auto run = NewRun(job);
  EXPECT_EQ(run->queue().pending().size(), 2u);
  ASSERT_TRUE(run->Prepare());
  EXPECT_GT(run->job().recipe().batch_size(), 0);
  EXPECT_TRUE(run->queue().empty());
  EXPECT_TRUE(ReportQueue(dir_.File("job-7.reports")).empty());  // on disk too
  EXPECT_TRUE(Locked([&] { return fake_.calls.empty(); }));      // nothing re-sent
}

// --- Train -----------------------------------------------------------------

// A dataset.path the worker cannot use fails the job with the loader's
// reason: without retry when the spec is at fault (the path leaves
// --data-root; the checkpoint goes too), with retry when this machine lacks
// the files (the checkpoint stays for the next attempt).
TEST_F(JobRunTest, ABadDatasetPathFailsTheJobNamingThePath) {
  struct Case {
    std::string path;
    bool retryable;
    std::string says;
  } cases[] = {
      {"..", false, "outside this worker's --data-root"},
      {"missing", true, "data/missing does not exist"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    Locked([&] {
      fake_.fails.clear();
      fake_.calls.clear();
      return 0;
    });
    auto job = TinyJob({"AlexNet"}, 1);
    job.mutable_dataset()->set_name("fashion-mnist");
    job.mutable_dataset()->set_path(c.path);
    PlantCheckpoint();
    auto run = NewRun(job);
    ASSERT_TRUE(run->Prepare());
    const TrainOutcome outcome = run->Train();
    ASSERT_EQ(outcome.kind, TrainOutcome::Kind::kFailed);
    EXPECT_EQ(outcome.reason.rfind("dataset: ", 0), 0u) << outcome.reason;
    EXPECT_NE(outcome.reason.find(c.says), std::string::npos) << outcome.reason;
    ASSERT_TRUE(run->Drain(outcome));
    run->Finalise(outcome);
    std::lock_guard<std::mutex> lock(fake_.mu);
    ASSERT_EQ(fake_.calls, Strings{"Fail"});
    EXPECT_EQ(fake_.fails[0].reason(), outcome.reason);
    EXPECT_EQ(fake_.fails[0].retryable(), c.retryable);
    EXPECT_EQ(CheckpointKept(), c.retryable);
  }
}

// Training sends each epoch as it ends (the coordinator has them all before
// the job ends); the model's memory is reserved and the slot admitted once.
TEST_F(JobRunTest, TrainReportsEachEpochAsItEndsAndAdmitsTheNextSlotOnce) {
  int admitted = 0;
  auto run = NewRun(TinyJob({"AlexNet"}, 2, 64, 32), [&] { ++admitted; });
  ASSERT_TRUE(run->Prepare());
  const TrainOutcome outcome = run->Train();
  ASSERT_EQ(outcome.kind, TrainOutcome::Kind::kCompleted) << outcome.reason;
  EXPECT_EQ(admitted, 1);
  EXPECT_EQ(Locked([&] { return fake_.arrival; }), (std::vector<int>{1, 2}));
  EXPECT_TRUE(run->queue().empty());
  EXPECT_TRUE(CheckpointKept());  // until the job is complete
  ASSERT_TRUE(run->Drain(outcome));
  run->Finalise(outcome);
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.calls, (Strings{"ReportEpochs", "ReportEpochs", "Complete"}));
  EXPECT_DOUBLE_EQ(fake_.completes.at(0).final_test_accuracy(), fake_.stored.at(2).test_accuracy());
  EXPECT_EQ(agent_->jobs_completed(), 1);
}

// An epoch's report that bounces off an outage stays on disk and goes out,
// in order, with the next epoch's.
TEST_F(JobRunTest, AnEpochReportDuringAnOutageIsBufferedUntilTheNextEpoch) {
  auto run = NewRun(TinyJob({"AlexNet"}, 3));
  ASSERT_TRUE(run->Prepare());
  Locked([&] { return fake_.unavailable_reports = 1; });
  run->ReportEpoch(Epoch(1));
  EXPECT_EQ(run->queue().pending().size(), 1u);
  EXPECT_EQ(ReportQueue(dir_.File("job-7.reports")).pending().size(), 1u);
  EXPECT_FALSE(run->StopRequested());  // an outage is no reason to stop
  run->ReportEpoch(Epoch(2));
  EXPECT_TRUE(run->queue().empty());
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.arrival, (std::vector<int>{1, 2}));
  EXPECT_EQ(fake_.report_sizes, (std::vector<int>{2}));
}

// --- Drain -----------------------------------------------------------------

TEST_F(JobRunTest, DrainDeliversQueuedReportsThroughAnOutageBeforeComplete) {
  auto run = NewRun(TinyJob({"AlexNet"}, 2));
  ASSERT_TRUE(run->Prepare());
  ASSERT_TRUE(run->queue().Push(Epoch(1)).ok());
  ASSERT_TRUE(run->queue().Push(Epoch(2)).ok());
  Locked([&] { return fake_.unavailable_reports = 2; });  // retried with backoff
  const TrainOutcome outcome = Outcome(TrainOutcome::Kind::kCompleted);
  ASSERT_TRUE(run->Drain(outcome));
  EXPECT_TRUE(run->queue().empty());
  EXPECT_EQ(Locked([&] { return fake_.calls; }), Strings{"ReportEpochs"});  // no Complete yet
  run->Finalise(outcome);
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.arrival, (std::vector<int>{1, 2}));
  EXPECT_EQ(fake_.calls, (Strings{"ReportEpochs", "Complete"}));
  EXPECT_EQ(fake_.completes.at(0).parameter_count(), 1234);
}

// The coordinator takes at most 1000 epochs a call: a long queue goes out in
// chunks of 500, in order (1001 epochs: two full chunks and one epoch).
TEST_F(JobRunTest, DrainSendsALongQueueInChunksTheCoordinatorAccepts) {
  auto run = NewRun(TinyJob({"AlexNet"}, 1001));
  ASSERT_TRUE(run->Prepare());
  for (int e = 1; e <= 1001; ++e) ASSERT_TRUE(run->queue().Push(Epoch(e)).ok());
  ASSERT_TRUE(run->Drain(Outcome(TrainOutcome::Kind::kCompleted)));
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.report_sizes, (std::vector<int>{500, 500, 1}));
  ASSERT_EQ(fake_.arrival.size(), 1001u);
  EXPECT_TRUE(std::is_sorted(fake_.arrival.begin(), fake_.arrival.end()));
}

// A fenced attempt never completes: the refused report ends it without a
// write, and its checkpoint goes (stop_reason.h).
TEST_F(JobRunTest, AFencedAttemptIsAbandonedWithoutCompleteOrFail) {
  PlantCheckpoint();
  auto run = NewRun(TinyJob({"AlexNet"}, 2));
  ASSERT_TRUE(run->Prepare());
  ASSERT_TRUE(run->queue().Push(Epoch(1)).ok());
  Locked([&] { return fake_.fence = true; });
  const TrainOutcome outcome = Outcome(TrainOutcome::Kind::kCompleted);
  EXPECT_FALSE(run->Drain(outcome));
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_TRUE(fake_.calls.empty());
  EXPECT_EQ(agent_->jobs_abandoned(), 1);
  EXPECT_FALSE(CheckpointKept());
  EXPECT_FALSE(ReportsFileLeft());
}

// Fenced mid-training: the next poll stops the trainer, and the stop, being
// the coordinator's doing, is abandoned in Drain.
TEST_F(JobRunTest, AFencedReportStopsTrainingAndNothingIsWritten) {
  auto run = NewRun(TinyJob({"AlexNet"}, 3));
  ASSERT_TRUE(run->Prepare());
  Locked([&] { return fake_.fence = true; });
  run->ReportEpoch(Epoch(1));
  const auto reason = run->StopRequested();
  ASSERT_TRUE(reason.has_value());
  EXPECT_EQ(*reason, "fenced: another attempt owns the job");
  EXPECT_FALSE(run->Drain(Outcome(TrainOutcome::Kind::kStopped, *reason)));
  EXPECT_TRUE(Locked([&] { return fake_.calls.empty(); }));
  EXPECT_EQ(agent_->jobs_abandoned(), 1);
}

// Fenced by a heartbeat reply: training stops at the next poll, and even a
// run that finished meanwhile is abandoned without Complete, its checkpoint
// and queue removed.
TEST_F(JobRunTest, AHeartbeatFencedAttemptNeverCompletes) {
  PlantCheckpoint();
  auto job = TinyJob({"AlexNet"}, 2);
  job.set_lease_seconds(3);  // a heartbeat every second
  auto run = NewRun(job);
  ASSERT_TRUE(run->Prepare());
  ASSERT_TRUE(run->queue().Push(Epoch(2)).ok());
  Locked([&] { return fake_.fence_heartbeats = true; });
  std::optional<std::string> reason;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!(reason = run->StopRequested()) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(reason.has_value());
  EXPECT_EQ(*reason, "fenced: another attempt owns the job");
  EXPECT_FALSE(run->Drain(Outcome(TrainOutcome::Kind::kCompleted)));
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_TRUE(fake_.calls.empty());
  EXPECT_EQ(agent_->jobs_abandoned(), 1);
  EXPECT_FALSE(CheckpointKept());
  EXPECT_FALSE(ReportsFileLeft());
}

// A stop the coordinator asked for in a heartbeat reply: no write (it
// decided the job's state already); a pause keeps the checkpoint to resume
// from, a cancel removes it; queued reports are discarded either way.
TEST_F(JobRunTest, ACoordinatorStopIsAbandonedKeepingTheCheckpointOnlyOnPause) {
  struct Case {
    v1::StopReason reason;
    std::string says;
    bool checkpoint_kept;
  } cases[] = {
      {v1::STOP_REASON_PAUSED, "paused by the coordinator", true},
      {v1::STOP_REASON_CANCELLED, "cancelled by the coordinator", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.says);
    Locked([&] {
      fake_.cancel = true;
      return fake_.stop_reason = c.reason;
    });
    PlantCheckpoint();
    auto job = TinyJob({"AlexNet"}, 3);
    job.set_lease_seconds(3);  // a heartbeat every second
    auto run = NewRun(job);
    ASSERT_TRUE(run->Prepare());
    ASSERT_TRUE(run->queue().Push(Epoch(1)).ok());
    std::optional<std::string> reason;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!(reason = run->StopRequested()) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(reason.has_value());
    EXPECT_EQ(*reason, c.says);
    EXPECT_FALSE(run->Drain(Outcome(TrainOutcome::Kind::kStopped, *reason)));
    EXPECT_TRUE(Locked([&] { return fake_.calls.empty(); }));
    EXPECT_EQ(CheckpointKept(), c.checkpoint_kept);
    EXPECT_FALSE(ReportsFileLeft());
  }
}

// --- Finalise --------------------------------------------------------------

// Success removes the checkpoint and the queue, except at the end of an
// asha rung, whose promotion continues from the checkpoint here.
TEST_F(JobRunTest, FinaliseRemovesTheCheckpointOnSuccessUnlessARungEnds) {
  struct Case {
    int stop_after_epoch;
    bool checkpoint_kept;
  } cases[] = {{0, false}, {2, true}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.stop_after_epoch);
    PlantCheckpoint();
    auto job = TinyJob({"AlexNet"}, 5);
    job.set_stop_after_epoch(c.stop_after_epoch);
    auto run = NewRun(job);
    ASSERT_TRUE(run->Prepare());
    const TrainOutcome outcome = Outcome(TrainOutcome::Kind::kCompleted);
    ASSERT_TRUE(run->Drain(outcome));
    run->Finalise(outcome);
    EXPECT_EQ(CheckpointKept(), c.checkpoint_kept);
    EXPECT_FALSE(ReportsFileLeft());
  }
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.completes.size(), 2u);
  EXPECT_EQ(agent_->jobs_completed(), 2);
}

// Stops the worker decides: shutdown delivers the reports and fails
// retryably keeping the checkpoint (the job resumes from it); its own time
// budget delivers them and fails for good, removing it; a refused report
// sends nothing more and fails for good with the coordinator's answer.
TEST_F(JobRunTest, FinaliseFailsAWorkersStopPerItsReason) {
  enum class Cause { kShutdown, kTimeBudget, kRefusedReport };
  struct Case {
    Cause cause;
    std::string says;
    Strings calls;
    bool retryable;
    bool checkpoint_kept;
  } cases[] = {
      {Cause::kShutdown, "worker shutting down", {"ReportEpochs", "Fail"}, true, true},
      {Cause::kTimeBudget, "exceeded max_job_seconds (1 s)", {"ReportEpochs", "Fail"}, false, false},
      {Cause::kRefusedReport,
       "epoch report rejected by the coordinator: 3 epochs[0].gate_mean: 3 values for 2 experts",
       {"Fail"},
       false,
       false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.says);
    MakeAgent();
    Locked([&] {
      fake_.calls.clear();
      fake_.fails.clear();
      return fake_.reject_reports_from_epoch = c.cause == Cause::kRefusedReport ? 1 : 0;
    });
    PlantCheckpoint();
    auto job = TinyJob({"AlexNet"}, 3);
    job.set_max_job_seconds(1);
    auto run = NewRun(job);
    ASSERT_TRUE(run->Prepare());
    if (c.cause == Cause::kShutdown) agent_->RequestShutdown();
    if (c.cause == Cause::kTimeBudget) std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    if (c.cause == Cause::kRefusedReport) {
      run->ReportEpoch(Epoch(1));  // refused, and not queued again
    } else {
      ASSERT_TRUE(run->queue().Push(Epoch(1)).ok());
    }
    const auto reason = run->StopRequested();
    ASSERT_TRUE(reason.has_value());
    EXPECT_EQ(*reason, c.says);
    const TrainOutcome outcome = Outcome(TrainOutcome::Kind::kStopped, *reason);
    ASSERT_TRUE(run->Drain(outcome));
    run->Finalise(outcome);
    std::lock_guard<std::mutex> lock(fake_.mu);
    EXPECT_EQ(fake_.calls, c.calls);
    ASSERT_FALSE(fake_.fails.empty());
    EXPECT_EQ(fake_.fails.back().reason(), c.says);
    EXPECT_EQ(fake_.fails.back().retryable(), c.retryable);
    EXPECT_EQ(CheckpointKept(), c.checkpoint_kept);
    EXPECT_FALSE(ReportsFileLeft());
  }
}

// A training failure: Fail with the trainer's reason and retry flag; out of
// memory says so with what the job needs; a job that can never succeed
// leaves nothing behind, one that may keeps its checkpoint.
TEST_F(JobRunTest, FinaliseReportsATrainingFailureAsTheTrainerClassifiedIt) {
  struct Case {
    bool retryable;
    bool out_of_memory;
    int64_t memory_needed_mb;
    v1::FailureKind kind;
    int64_t reported_need;
  } cases[] = {
      {true, false, 0, v1::FAILURE_KIND_UNSPECIFIED, 0},
      {false, false, 0, v1::FAILURE_KIND_UNSPECIFIED, 0},
      {true, true, 700, v1::FAILURE_KIND_OUT_OF_MEMORY, 700},
      {true, true, 0, v1::FAILURE_KIND_OUT_OF_MEMORY, 1},  // unknown need: still an out-of-memory failure
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "retryable " << c.retryable << " oom " << c.out_of_memory << " need "
                                      << c.memory_needed_mb);
    PlantCheckpoint();
    auto run = NewRun(TinyJob({"AlexNet"}, 2));
    ASSERT_TRUE(run->Prepare());
    TrainOutcome outcome = Outcome(TrainOutcome::Kind::kFailed, "training error: boom");
    outcome.retryable = c.retryable;
    outcome.out_of_memory = c.out_of_memory;
    outcome.memory_needed_mb = c.memory_needed_mb;
    ASSERT_TRUE(run->Drain(outcome));
    run->Finalise(outcome);
    std::lock_guard<std::mutex> lock(fake_.mu);
    const auto& fail = fake_.fails.back();
    EXPECT_EQ(fail.reason(), "training error: boom");
    EXPECT_EQ(fail.retryable(), c.retryable);
    EXPECT_EQ(fail.kind(), c.kind);
    EXPECT_EQ(fail.memory_needed_mb(), c.reported_need);
    EXPECT_EQ(CheckpointKept(), c.retryable);
  }
  EXPECT_EQ(agent_->jobs_failed(), 4);
  EXPECT_TRUE(Locked([&] { return fake_.completes.empty(); }));
}

// Reports that could not be delivered before shutdown: the job is neither
// completed (the coordinator lacks epochs) nor failed; it is left to be
// requeued, with its queue and checkpoint on disk.
TEST_F(JobRunTest, FinaliseNeverCompletesAJobWithUndeliveredReports) {
  MakeAgent([](AgentOptions& o) { o.shutdown_grace = std::chrono::milliseconds(0); });
  PlantCheckpoint();
  auto run = NewRun(TinyJob({"AlexNet"}, 2));
  ASSERT_TRUE(run->Prepare());
  ASSERT_TRUE(run->queue().Push(Epoch(2)).ok());
  Locked([&] { return fake_.unavailable_reports = 1000; });
  agent_->RequestShutdown();
  const TrainOutcome outcome = Outcome(TrainOutcome::Kind::kCompleted);
  ASSERT_TRUE(run->Drain(outcome));
  EXPECT_EQ(run->queue().pending().size(), 1u);
  run->Finalise(outcome);
  EXPECT_TRUE(Locked([&] { return fake_.calls.empty(); }));
  EXPECT_TRUE(CheckpointKept());
  EXPECT_EQ(ReportQueue(dir_.File("job-7.reports")).pending().size(), 1u);
}

// A Complete the coordinator keeps refusing (a deterministic server error)
// becomes a retryable Fail with its answer; the checkpoint stays, so a later
// attempt resumes at the end.
TEST_F(JobRunTest, FinaliseTurnsARefusedCompleteIntoARetryableFail) {
  MakeAgent([](AgentOptions& o) { o.suspect_retry_budget = 2; });
  Locked([&] { return fake_.internal_completes = true; });
  PlantCheckpoint();
  auto run = NewRun(TinyJob({"AlexNet"}, 2));
  ASSERT_TRUE(run->Prepare());
  const TrainOutcome outcome = Outcome(TrainOutcome::Kind::kCompleted);
  ASSERT_TRUE(run->Drain(outcome));
  run->Finalise(outcome);
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.complete_calls, 2);
  ASSERT_EQ(fake_.calls, Strings{"Fail"});
  EXPECT_TRUE(fake_.fails[0].retryable());
  EXPECT_EQ(fake_.fails[0].reason().rfind("Complete refused by the coordinator: ", 0), 0u) << fake_.fails[0].reason();
  EXPECT_TRUE(CheckpointKept());
}

}  // namespace
}  // namespace moe4::worker
