// TrainerRun's phases one at a time: the memory bound when the model is
// built, which checkpoint is restored, which stored epochs are reported
// again, and what one epoch leaves behind when it finishes or is stopped.
#include "worker/train/trainer_run.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"
#include "worker/data/loader.h"

namespace moe4::worker {
namespace {

using testing::ScratchDir;
using testing::TinyJob;

DatasetPair Load(const moe4::v1::JobAssignment& job) {
  auto data = LoadDataset(job.dataset(), "");
  EXPECT_TRUE(data.ok()) << data.status();
  return std::move(*data);
}

TrainerOptions Options(const std::string& checkpoint = "", int64_t memory_budget_mb = 0) {
  TrainerOptions options;
  options.threads = 2;
  options.checkpoint_path = checkpoint;
  options.memory_budget_mb = memory_budget_mb;
  return options;
}

std::vector<int> Epochs(const std::vector<moe4::v1::EpochMetrics>& metrics) {
  std::vector<int> out;
  for (const auto& m : metrics) out.push_back(m.epoch());
  return out;
}

// The budget check is exact: a budget of the model's static memory builds,
// one MiB less fails as out of memory before any step, needing that much.
TEST(TrainerRunTest, BuildModelFailsAJobWhoseStaticMemoryExceedsTheBudget) {
  const auto job = TinyJob({"AlexNet", "BagNet"}, 1, 64, 32);
  const auto data = Load(job);
  int64_t built_mb = 0;
  TrainerHooks hooks;
  hooks.on_model_built = [&](int64_t mb) { built_mb = mb; };
  const TrainerOptions unbounded = Options();
  TrainerRun probe(BuiltinRegistry(), job, data, unbounded, hooks);
  ASSERT_FALSE(probe.BuildModel().has_value());
  ASSERT_GT(built_mb, 1);

  const TrainerOptions exact = Options("", built_mb);
  EXPECT_FALSE(TrainerRun(BuiltinRegistry(), job, data, exact, hooks).BuildModel().has_value());
  const TrainerOptions short_by_one = Options("", built_mb - 1);
  const auto end = TrainerRun(BuiltinRegistry(), job, data, short_by_one, hooks).BuildModel();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->kind, TrainOutcome::Kind::kFailed);
  EXPECT_TRUE(end->out_of_memory);
  EXPECT_TRUE(end->retryable);
  EXPECT_EQ(end->memory_needed_mb, built_mb);
  EXPECT_EQ(end->memory_needed_mb, StaticTrainingMemoryMb(end->parameter_count));
}

// Only this job's checkpoint is restored; anything else is ignored (and
// left alone) and the run starts at epoch 1.
TEST(TrainerRunTest, RestoreCheckpointResumesOnlyFromThisJobsCheckpoint) {
  ScratchDir dir;
  const std::string ckpt = dir.File("job-7.pt");
  const auto job = TinyJob({"AlexNet"}, 2, 64, 32);
  const auto data = Load(job);
  const TrainerOptions options = Options(ckpt);
  const TrainerHooks none;
  auto first_epoch_with = [&](const moe4::v1::JobAssignment& j) {
    TrainerRun run(BuiltinRegistry(), j, data, options, none);
    EXPECT_FALSE(run.BuildModel().has_value());
    EXPECT_FALSE(run.RestoreCheckpoint().has_value());
    return run.first_epoch();
  };
  EXPECT_EQ(first_epoch_with(job), 1);  // no file
  std::ofstream(ckpt) << "not a checkpoint";
  EXPECT_EQ(first_epoch_with(job), 1);
  EXPECT_TRUE(std::filesystem::exists(ckpt));

  auto one_epoch = job;
  one_epoch.set_stop_after_epoch(1);  // not part of the identity: the same job's checkpoint
  Trainer(BuiltinRegistry(), one_epoch, data, options).Run(none);
  EXPECT_EQ(first_epoch_with(job), 2);
  auto other = job;
  other.mutable_recipe()->set_seed(99);
  EXPECT_EQ(first_epoch_with(other), 1);
}

// The checkpoint's epochs after resume_from_epoch (and not past the rung's
// end) are reported again, in order; the others are the coordinator's already.
TEST(TrainerRunTest, ReplayStoredEpochsReportsWhatTheCoordinatorLacks) {
  ScratchDir dir;
  const std::string ckpt = dir.File("job-7.pt");
  const auto job = TinyJob({"AlexNet"}, 2, 64, 32);
  const auto data = Load(job);
  const TrainerOptions options = Options(ckpt);
  ASSERT_EQ(Trainer(BuiltinRegistry(), job, data, options).Run({}).kind, TrainOutcome::Kind::kCompleted);
  struct Case {
    int resume_from_epoch;
    int stop_after_epoch;
    std::vector<int> replayed;
  } cases[] = {{0, 0, {1, 2}}, {1, 0, {2}}, {2, 0, {}}, {0, 1, {1}}};
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "resume " << c.resume_from_epoch << " stop " << c.stop_after_epoch);
    auto again = job;
    again.set_resume_from_epoch(c.resume_from_epoch);
    again.set_stop_after_epoch(c.stop_after_epoch);
    std::vector<moe4::v1::EpochMetrics> reported;
    TrainerHooks hooks;
    hooks.on_epoch = [&](const moe4::v1::EpochMetrics& m) { reported.push_back(m); };
    TrainerRun run(BuiltinRegistry(), again, data, options, hooks);
    ASSERT_FALSE(run.BuildModel().has_value());
    ASSERT_FALSE(run.RestoreCheckpoint().has_value());
    run.ReplayStoredEpochs();
    EXPECT_EQ(Epochs(reported), c.replayed);
    for (const auto& m : reported) {
      EXPECT_EQ(m.SerializeAsString(), run.state().history.at(m.epoch() - 1).SerializeAsString());
    }
  }
}

// An epoch is reported only once its checkpoint is on disk, and an epoch the
// coordinator already stored is checkpointed but not reported.
TEST(TrainerRunTest, RunEpochCheckpointsBeforeReportingAndSkipsStoredEpochs) {
  ScratchDir dir;
  const std::string ckpt = dir.File("job-7.pt");
  auto job = TinyJob({"AlexNet"}, 2, 64, 32);
  job.set_resume_from_epoch(1);  // epoch 1 was trained elsewhere and stored
  const auto data = Load(job);
  const TrainerOptions options = Options(ckpt);
  std::vector<int> reported;
  std::vector<bool> checkpoint_at_report;
  TrainerHooks hooks;
  hooks.on_epoch = [&](const moe4::v1::EpochMetrics& m) {
    reported.push_back(m.epoch());
    checkpoint_at_report.push_back(std::filesystem::exists(ckpt));
  };
  TrainerRun run(BuiltinRegistry(), job, data, options, hooks);
  ASSERT_FALSE(run.BuildModel().has_value());
  ASSERT_FALSE(run.RestoreCheckpoint().has_value());
  run.PlaceData();
  ASSERT_FALSE(run.RunEpoch(1).has_value());
  EXPECT_TRUE(reported.empty());
  EXPECT_TRUE(std::filesystem::exists(ckpt));
  EXPECT_EQ(run.state().epoch, 1);
  ASSERT_FALSE(run.RunEpoch(2).has_value());
  EXPECT_EQ(reported, std::vector<int>{2});
  EXPECT_EQ(checkpoint_at_report, std::vector<bool>{true});
  const TrainOutcome done = run.Completed();
  EXPECT_EQ(done.kind, TrainOutcome::Kind::kCompleted);
  EXPECT_EQ(Epochs(done.history), (std::vector<int>{1, 2}));
  EXPECT_EQ(done.final_test_accuracy, done.history.back().test_accuracy());
}

// A stop asked for while the epoch is evaluated ends the run with the epochs
// finished before it: the stopped epoch is neither checkpointed nor reported.
TEST(TrainerRunTest, AStopDuringEvaluationDiscardsTheUnfinishedEpoch) {
  ScratchDir dir;
  const std::string ckpt = dir.File("job-7.pt");
  const auto job = TinyJob({"AlexNet"}, 3, 64, 32);  // two training batches, one test batch
  const auto data = Load(job);
  const TrainerOptions options = Options(ckpt);
  bool stop = false;
  int reports = 0;
  TrainerHooks hooks;
  hooks.on_epoch = [&](const moe4::v1::EpochMetrics&) { ++reports; };
  // After epoch 2's last step: the next poll is its evaluation's first batch.
  hooks.on_step = [&](int epoch, int64_t step) { stop = epoch == 2 && step == 2; };
  hooks.stop_reason = [&]() -> std::optional<std::string> {
    return stop ? std::optional<std::string>("paused by the coordinator") : std::nullopt;
  };
  TrainerRun run(BuiltinRegistry(), job, data, options, hooks);
  ASSERT_FALSE(run.BuildModel().has_value());
  ASSERT_FALSE(run.RestoreCheckpoint().has_value());
  run.PlaceData();
  ASSERT_FALSE(run.RunEpoch(1).has_value());
  const auto end = run.RunEpoch(2);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->kind, TrainOutcome::Kind::kStopped);
  EXPECT_EQ(end->reason, "paused by the coordinator");
  EXPECT_EQ(Epochs(end->history), std::vector<int>{1});
  EXPECT_GT(end->parameter_count, 0);
  EXPECT_EQ(reports, 1);
  EXPECT_EQ(run.state().epoch, 1);
  // The checkpoint on disk is epoch 1's: a resumed run starts at epoch 2.
  const TrainerHooks none;
  TrainerRun resumed(BuiltinRegistry(), job, data, options, none);
  ASSERT_FALSE(resumed.BuildModel().has_value());
  ASSERT_FALSE(resumed.RestoreCheckpoint().has_value());
  EXPECT_EQ(resumed.first_epoch(), 2);
}

}  // namespace
}  // namespace moe4::worker
