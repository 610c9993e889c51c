// One run of a Trainer, in phases (Trainer::Run calls them in order; each
// that can end the run returns its outcome then, std::nullopt to go on):
//
//   BuildModel          the job's stream, the mixture and AdamW, the memory bound
//   RestoreCheckpoint   resume from the checkpoint when it is this job's
//   ReplayStoredEpochs  report again the checkpoint's epochs the coordinator lacks
//   PlaceData           the datasets on the device when they fit
//   RunEpoch            one epoch: train, evaluate, checkpoint, report
//   Completed           the outcome once every epoch ran
//
// Public so that tests drive the phases one at a time; trainer.h documents
// resume and randomness. Throws what LibTorch throws (Trainer::Run turns it
// into a kFailed outcome). Not thread-safe: one run on the calling thread.
#ifndef MOE4_WORKER_TRAIN_TRAINER_RUN_H_
#define MOE4_WORKER_TRAIN_TRAINER_RUN_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "moe4/v1/moe4.pb.h"
#include "worker/data/batch_stream.h"
#include "worker/data/dataset.h"
#include "worker/models/registry.h"
#include "worker/train/checkpoint.h"
#include "worker/train/job_stream.h"
#include "worker/train/schedule.h"
#include "worker/train/trainer.h"
#include "worker/train/training_core.h"

namespace moe4::worker {

class TrainerRun {
 public:
  // Keeps references to every argument: all must outlive the run. Builds
  // nothing yet (never throws).
  TrainerRun(const FamilyRegistry& registry, const moe4::v1::JobAssignment& job, const DatasetPair& data,
             const TrainerOptions& options, const TrainerHooks& hooks);
  TrainerRun(const TrainerRun&) = delete;
  TrainerRun& operator=(const TrainerRun&) = delete;

  // Every phase in order.
  TrainOutcome RunAll();

  std::optional<TrainOutcome> BuildModel();
  std::optional<TrainOutcome> RestoreCheckpoint();
  void ReplayStoredEpochs();
  void PlaceData();
  std::optional<TrainOutcome> RunEpoch(int epoch);
  TrainOutcome Completed() const;

  // The kFailed outcome of running out of memory (`what` says where).
  TrainOutcome OutOfMemory(const std::string& what) const;

  // Epochs this run trains: first_epoch()..last_epoch() (none when first >
  // last). first_epoch() is 1 until a checkpoint is restored.
  int first_epoch() const { return state_.epoch + 1; }
  int last_epoch() const { return last_epoch_; }
  const CheckpointState& state() const { return state_; }

 private:
  // RunEpoch's parts. TrainEpoch fills the training figures and the lr into
  // `m` and counts the images; EvaluateEpoch the test (and validation) ones.
  std::optional<TrainOutcome> TrainEpoch(int epoch, moe4::v1::EpochMetrics* m, int64_t* images);
  std::optional<TrainOutcome> EvaluateEpoch(moe4::v1::EpochMetrics* m);
  // The mixture's statistics on `set` into `into`; a stop request on the
  // way returns the kStopped outcome instead.
  std::optional<TrainOutcome> Evaluate(const Dataset& set, moe4::v1::EpochMetrics* into);
  // Records the finished epoch, writes the checkpoint, then reports.
  std::optional<TrainOutcome> FinishEpoch(moe4::v1::EpochMetrics m);
  // The kStopped outcome when the stop hook asks for one.
  std::optional<TrainOutcome> StopRequested() const;
  void Report(const moe4::v1::EpochMetrics& m);
  BatchStreamOptions StreamOptions(int64_t batch_size) const;

  const FamilyRegistry& registry_;
  const moe4::v1::JobAssignment& job_;
  const DatasetPair& data_;
  const TrainerOptions& options_;
  const TrainerHooks& hooks_;
  // An asha rung ends before recipe.epochs (JobAssignment.stop_after_epoch);
  // the learning-rate schedule spans recipe.epochs either way, so a promoted
  // job continues exactly as an uninterrupted run would.
  const int last_epoch_;

  // Built by the phases, in this order (destroyed in reverse: the stream last).
  std::optional<JobStream> job_stream_;
  std::unique_ptr<TrainingCore> core_;
  std::optional<LrSchedule> schedule_;
  int64_t parameter_count_ = 0;
  int64_t static_memory_mb_ = 0;  // StaticTrainingMemoryMb once the model is built
  CheckpointState state_;
  std::optional<google::protobuf::Map<std::string, int32_t>> skipped_images_;  // on the first report
  std::optional<AugmentOptions> augment_;
  std::optional<Dataset> train_resident_, test_resident_, validation_resident_;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_TRAINER_RUN_H_
