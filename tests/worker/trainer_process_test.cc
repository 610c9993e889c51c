// The trainer process (worker/agent/trainer_process.h): a real moe4-worker
// child trains real jobs; what it reports, how it stops, and that its
// abort or its memory limit ends the job and not the caller.
#include "worker/agent/trainer_process.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <iostream>

#include "cgroup_test_util.h"
#include "test_util.h"
#include "worker/data/loader.h"

namespace moe4::worker {
namespace {

using testing::ScratchDir;
using testing::Timeless;
using testing::TinyJob;
using testing::WorkerBinary;

struct ChildRun {
  TrainOutcome outcome;
  std::vector<moe4::v1::EpochMetrics> reported;
  int64_t static_memory_mb = -1;
  int progress_events = 0;
};

TrainerProcessOptions Options(const std::string& checkpoint = "") {
  TrainerProcessOptions options;
  options.executable = WorkerBinary();
  options.threads = 2;
  options.checkpoint_path = checkpoint;
  options.log_level = "warn";
  return options;
}

ChildRun TrainInProcess(const TrainerProcessOptions& options, const moe4::v1::JobAssignment& job,
                   std::function<std::optional<std::string>(const ChildRun&)> stop = nullptr) {
  ChildRun run;
  TrainerHooks hooks;
  hooks.on_model_built = [&](int64_t mb) { run.static_memory_mb = mb; };
  hooks.on_epoch = [&](const moe4::v1::EpochMetrics& m) { run.reported.push_back(m); };
  hooks.on_step = [&](int, int64_t) { ++run.progress_events; };
  hooks.stop_reason = [&]() -> std::optional<std::string> { return stop ? stop(run) : std::nullopt; };
  run.outcome = RunInTrainerProcess(options, job, hooks);
  return run;
}

TEST(TrainerProcessTest, TrainsInAChildDeterministicallyAndAsOnAThread) {
  ASSERT_TRUE(std::filesystem::exists(WorkerBinary())) << WorkerBinary();
  const auto job = TinyJob({"AlexNet", "BagNet"}, 2, 128, 64);
  const ChildRun child = TrainInProcess(Options(), job);
  ASSERT_EQ(child.outcome.kind, TrainOutcome::Kind::kCompleted) << child.outcome.reason;
  ASSERT_EQ(child.reported.size(), 2u);
  EXPECT_EQ(child.reported[0].epoch(), 1);
  EXPECT_EQ(child.reported[1].epoch(), 2);
  EXPECT_GT(child.static_memory_mb, 0);
  EXPECT_GT(child.progress_events, 0);
  EXPECT_GT(child.outcome.parameter_count, 0);
  EXPECT_DOUBLE_EQ(child.outcome.final_test_accuracy, child.reported[1].test_accuracy());

  // Deterministic across processes: a second child, the same numbers.
  const ChildRun again = TrainInProcess(Options(), job);
  ASSERT_EQ(again.reported.size(), 2u);
  for (size_t i = 0; i < again.reported.size(); ++i) {
    EXPECT_EQ(Timeless(again.reported[i]).SerializeAsString(), Timeless(child.reported[i]).SerializeAsString()) << i;
  }
  // The same job on this thread: the same training, up to rounding (this
  // test binary does not re-execute itself with the worker's OPENBLAS_CORETYPE,
  // so its BLAS kernels may differ: worker/train/omp_env.h).
  auto data = LoadDataset(job.dataset(), "");
  ASSERT_TRUE(data.ok()) << data.status();
  TrainerOptions options;
  options.threads = 2;
  Trainer trainer(BuiltinRegistry(), job, *data, options);
  std::vector<moe4::v1::EpochMetrics> here;
  TrainerHooks hooks;
  hooks.on_epoch = [&](const moe4::v1::EpochMetrics& m) { here.push_back(m); };
  const TrainOutcome outcome = trainer.Run(hooks);
  ASSERT_EQ(here.size(), 2u);
  for (size_t i = 0; i < here.size(); ++i) {
    EXPECT_NEAR(here[i].train_loss(), child.reported[i].train_loss(), 0.02 * here[i].train_loss()) << i;
  }
  EXPECT_EQ(outcome.parameter_count, child.outcome.parameter_count);
}

TEST(TrainerProcessTest, StopsWhenTheHookSaysSoWithThatReasonAndKeepsItsCheckpoint) {
  ScratchDir dir;
  const auto job = TinyJob({"AlexNet"}, 20, 128, 64);
  const ChildRun run = TrainInProcess(Options(dir.File("job-7.pt")), job, [](const ChildRun& r) -> std::optional<std::string> {
    if (r.reported.empty()) return std::nullopt;
    return std::string("paused by the coordinator");
  });
  ASSERT_EQ(run.outcome.kind, TrainOutcome::Kind::kStopped) << run.outcome.reason;
  EXPECT_EQ(run.outcome.reason, "paused by the coordinator");
  EXPECT_GE(run.reported.size(), 1u);
  EXPECT_LT(run.reported.size(), 20u);
  EXPECT_TRUE(std::filesystem::exists(dir.File("job-7.pt")));
}

TEST(TrainerProcessTest, AnAbortInTheChildFailsTheJobRetryablyNamingTheSignal) {
  ASSERT_EQ(::setenv(kTrainerFailpointEnv, "abort_in_first_attempt", 1), 0);
  auto job = TinyJob({"AlexNet"}, 3, 64, 32);
  const ChildRun first = TrainInProcess(Options(), job);
  job.set_attempt(2);  // the failpoint aborts first attempts only
  const ChildRun second = TrainInProcess(Options(), job);
  ::unsetenv(kTrainerFailpointEnv);

  ASSERT_EQ(first.outcome.kind, TrainOutcome::Kind::kFailed) << first.outcome.reason;
  EXPECT_TRUE(first.outcome.retryable);
  EXPECT_FALSE(first.outcome.out_of_memory);
  EXPECT_NE(first.outcome.reason.find("died of SIGABRT"), std::string::npos) << first.outcome.reason;
  EXPECT_NE(first.outcome.reason.find("after epoch 1"), std::string::npos) << first.outcome.reason;
  EXPECT_EQ(first.reported.size(), 1u);  // what it reported before dying arrived
  // The caller lived on, and the next attempt trains to the end.
  EXPECT_EQ(second.outcome.kind, TrainOutcome::Kind::kCompleted) << second.outcome.reason;
  EXPECT_EQ(second.reported.size(), 3u);
}

TEST(TrainerProcessTest, AJobOverItsMemoryLimitFailsAsOutOfMemoryNamingTheLimit) {
  // About 64 M parameters: 1 GiB of weights, gradients and AdamW state
  // alone, over a 640 MiB limit that LibTorch and the data fit in.
  auto job = TinyJob({"VGG"}, 1, 64, 32);
  job.mutable_recipe()->set_width(2.0);
  TrainerProcessOptions options = Options();
  options.memory_limit_mb = 640;
  const ChildRun run = TrainInProcess(options, job);
  ASSERT_EQ(run.outcome.kind, TrainOutcome::Kind::kFailed) << run.outcome.reason;
  EXPECT_TRUE(run.outcome.out_of_memory) << run.outcome.reason;
  EXPECT_TRUE(run.outcome.retryable);
  EXPECT_NE(run.outcome.reason.find("--job-memory-max, is 640 MiB"), std::string::npos) << run.outcome.reason;
  EXPECT_TRUE(run.reported.empty());
}

// With --job-cgroup the limit is the kernel's: the trainer runs in a memory
// cgroup of its own, the kernel kills it when the job needs more, and the
// outcome says so; a job under the limit trains, and neither leaves its
// cgroup behind.
TEST(TrainerProcessTest, UnderACgroupAJobOverTheLimitFailsAsOutOfMemoryAndOneUnderItTrains) {
  testing::ScratchCgroup scratch;
  if (!scratch.cgroups()) GTEST_SKIP() << scratch.why();
  TrainerProcessOptions options = Options();
  options.cgroups = scratch.cgroups();

  auto big = TinyJob({"VGG"}, 1, 64, 32);
  big.mutable_recipe()->set_width(2.0);
  options.memory_limit_mb = 320;
  const ChildRun over = TrainInProcess(options, big);
  ASSERT_EQ(over.outcome.kind, TrainOutcome::Kind::kFailed) << over.outcome.reason;
  EXPECT_TRUE(over.outcome.out_of_memory) << over.outcome.reason;
  EXPECT_TRUE(over.outcome.retryable);
  EXPECT_GT(over.outcome.memory_needed_mb, 320) << over.outcome.reason;
  EXPECT_NE(over.outcome.reason.find("needed more than 320 MiB"), std::string::npos) << over.outcome.reason;
  EXPECT_NE(over.outcome.reason.find("--job-memory-max, cgroup v"), std::string::npos) << over.outcome.reason;
  std::cout << "over the limit: " << over.outcome.reason << "\n";
  EXPECT_TRUE(scratch.JobEntries().empty());

  options.memory_limit_mb = 2048;
  const ChildRun under = TrainInProcess(options, TinyJob({"AlexNet"}, 1, 64, 32));
  ASSERT_EQ(under.outcome.kind, TrainOutcome::Kind::kCompleted) << under.outcome.reason;
  EXPECT_EQ(under.reported.size(), 1u);
  EXPECT_TRUE(scratch.JobEntries().empty());
}

TEST(TrainerProcessTest, AMissingExecutableIsARetryableFailureNotACrash) {
  TrainerProcessOptions options = Options();
  options.executable = "/nonexistent/moe4-worker";
  const ChildRun run = TrainInProcess(options, TinyJob({"AlexNet"}, 1, 64, 32));
  ASSERT_EQ(run.outcome.kind, TrainOutcome::Kind::kFailed);
  EXPECT_TRUE(run.outcome.retryable);
  EXPECT_NE(run.outcome.reason.find("/nonexistent/moe4-worker"), std::string::npos) << run.outcome.reason;
}

TEST(TrainerProcessTest, ABadDatasetFailsWithTheLoadersReason) {
  auto job = TinyJob({"AlexNet"}, 1, 64, 32);
  job.mutable_dataset()->set_name("no-such-dataset");
  const ChildRun run = TrainInProcess(Options(), job);
  ASSERT_EQ(run.outcome.kind, TrainOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.reason.rfind("dataset: ", 0), 0u) << run.outcome.reason;
}

}  // namespace
}  // namespace moe4::worker
