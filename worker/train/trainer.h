// Trains one job's mixture of experts with the recipe and reports each
// epoch's metrics. It knows nothing about gRPC: the caller supplies hooks for
// epoch reports, progress and stop requests (the daemon's agent and moe4-train
// are its two callers). One Trainer runs one job on the calling thread (plus
// its batch-producer thread); hooks are invoked on the calling thread except
// stop_reason, which should be cheap and thread-safe (e.g. read atomics).
//
// Resume (checkpoint at epoch C on disk, coordinator has stored epochs 1..R):
//   C >= R: load it and continue at C + 1; epochs R+1..C are reported again
//           from the checkpoint's stored history (identical values), because
//           the coordinator never received them.
//   C <  R: the weights of epochs C+1..R were trained elsewhere and are lost
//           here; train on from C (or from scratch) without reporting epochs
//           <= R, whose stored rows stay authoritative, and report from R+1.
// A checkpoint whose identity (job, families, recipe, dataset) differs from
// the job is ignored.
//
// Randomness: weights are initialised from recipe.seed; every epoch reseeds
// the global generator (dropout, gate noise) and its own data generator
// (order, augmentation, mixup) from (seed, epoch). Same seed, same thread
// count, same device => same metrics on CPU.
#ifndef MOE4_WORKER_TRAIN_TRAINER_H_
#define MOE4_WORKER_TRAIN_TRAINER_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "moe4/v1/moe4.pb.h"
#include "worker/data/dataset.h"
#include "worker/models/registry.h"
#include "worker/train/training_core.h"

namespace moe4::worker {

struct TrainerOptions {
  torch::Device device = torch::kCPU;  // where the model and batches live
  int threads = 1;                     // intra-op threads (torch::set_num_threads)
  std::string checkpoint_path;         // "" = no checkpoints
  WeightLayout weight_layout = WeightLayout::kAuto;  // see training_core.h
  // Device memory (MiB) this job may use, 0 = no bound. A job whose weights,
  // gradients and AdamW state alone (16 bytes a parameter) exceed it fails as
  // out of memory before its first step, and an out-of-memory failure says
  // the job needs more than this.
  int64_t memory_budget_mb = 0;
};

// The device memory (MiB) a mixture of `parameters` parameters needs before
// any activation: fp32 weights, gradients and AdamW's two moments. A lower
// bound on a job's peak, known before its first step.
int64_t StaticTrainingMemoryMb(int64_t parameters);

// EpochMetrics.skipped_images holds at most this many keys (the bound the
// coordinator checks).
inline constexpr size_t kMaxSkippedImageKeys = 1000;

struct TrainerHooks {
  // Each reportable epoch, in order, after its checkpoint is on disk, with
  // the dataset's skipped files (DatasetPair::skipped) in skipped_images.
  std::function<void(const moe4::v1::EpochMetrics&)> on_epoch;
  // Progress after every optimiser step (epoch 1-based, step 0-based).
  std::function<void(int epoch, int64_t step)> on_step;
  // Polled before every batch; a value stops training with that reason.
  std::function<std::optional<std::string>()> stop_reason;
  // Once the model is built: StaticTrainingMemoryMb of its parameters.
  std::function<void(int64_t static_memory_mb)> on_model_built;
};

struct TrainOutcome {
  enum class Kind { kCompleted, kStopped, kFailed };
  Kind kind = Kind::kFailed;
  std::string reason;      // why it stopped or failed
  bool retryable = false;  // for kFailed: would another attempt help?
  // For kFailed: the job ran out of device (or host) memory; another worker
  // with more free may run it. memory_needed_mb is a lower bound on its need.
  bool out_of_memory = false;
  int64_t memory_needed_mb = 0;
  // For kFailed: the checkpoint could not be written (a full or unwritable
  // --checkpoint-dir): a problem of this machine, not of the job.
  bool checkpoint_failed = false;
  double final_test_accuracy = 0;
  double best_test_accuracy = 0;   // highest test accuracy of any epoch: reported, never used to select
  // The selected epoch: highest validation accuracy (earliest on ties), or
  // the last one without a validation split; the coordinator selects again
  // from the epochs it stored, by the same rule.
  int selected_epoch = 0;
  double validation_accuracy = 0;  // at the selected epoch; NaN without a validation split
  double selected_test_accuracy = 0;
  int64_t parameter_count = 0;
  double train_seconds = 0;  // sum of epoch_seconds over all epochs, resumed ones included
  std::vector<moe4::v1::EpochMetrics> history;
};

// A kFailed outcome.
TrainOutcome FailedOutcome(std::string reason, bool retryable);

class Trainer {
 public:
  // `data` must outlive the trainer. The job must already be validated.
  Trainer(const FamilyRegistry& registry, moe4::v1::JobAssignment job, const DatasetPair& data, TrainerOptions options);

  // Never throws: LibTorch errors, OOM and NaN losses become kFailed. The
  // phases of a run are TrainerRun's (trainer_run.h).
  TrainOutcome Run(const TrainerHooks& hooks);

 private:
  const FamilyRegistry& registry_;
  moe4::v1::JobAssignment job_;
  const DatasetPair& data_;
  TrainerOptions options_;
};

// Mixes a job seed with an epoch and a stream id (splitmix64).
uint64_t MixSeed(uint64_t seed, uint64_t epoch, uint64_t stream);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_TRAINER_H_
