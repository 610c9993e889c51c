// Per-job checkpoints: model, optimiser (AdamW moments and step counts),
// scheduler position (global step), epoch, the metrics of every finished
// epoch and the job identity, written after every epoch to a temp file and
// renamed into place so a crash never leaves a torn file. The RNG needs no
// saved state: the trainer reseeds every epoch from (seed, epoch), so a
// resumed run is bit-identical to an uninterrupted one on CPU.
// Stateless functions; one job's checkpoint is written by one thread.
#ifndef MOE4_WORKER_TRAIN_CHECKPOINT_H_
#define MOE4_WORKER_TRAIN_CHECKPOINT_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::worker {

struct CheckpointState {
  std::string identity;  // job id, families, dataset, recipe: must match to resume
  int32_t epoch = 0;     // last finished epoch (1-based)
  int64_t global_step = 0;
  std::vector<moe4::v1::EpochMetrics> history;  // epochs 1..epoch
};

// What must not change between the run that wrote a checkpoint and the run
// that resumes it.
std::string CheckpointIdentity(const moe4::v1::JobAssignment& job);

absl::Status SaveCheckpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                            const CheckpointState& state);

// Reads only the metadata (identity, epoch, history), not the weights.
absl::StatusOr<CheckpointState> PeekCheckpoint(const std::string& path);

// Restores model and optimiser in place; the model must have the structure
// the checkpoint was written with (the identity guarantees it).
absl::StatusOr<CheckpointState> LoadCheckpoint(const std::string& path, torch::nn::Module& model,
                                               torch::optim::Optimizer& optimizer, const torch::Device& device);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_CHECKPOINT_H_
