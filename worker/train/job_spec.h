// Reads a standalone job spec (YAML) for moe4-train into the same
// JobAssignment the coordinator would send, so both paths train identically:
//
//   families: [AirNet, AlexNet, BagNet]
//   catalogue: lemur                                       # or adapted; default lemur
//   dataset: {name: fashion-mnist, path: "", train_subset: 6000, test_subset: 2000, resize: 0,
//             validation_fraction: 0.1, split_seed: 0}        # hold-out selects the epoch; 0 = none
//   recipe: {epochs: 2, batch_size: 128, lr: 0.002, ...}   # any Recipe field
//   resume_from_epoch: 0                                   # optional
//   job_id: 1                                              # optional
//
// Missing recipe fields take DefaultRecipe(); unknown keys are errors that
// name the key, and so is a key given twice in one mapping
// ("recipe.lr: duplicate key (lines 4 and 6)"). Stateless; safe from any thread.
#ifndef MOE4_WORKER_TRAIN_JOB_SPEC_H_
#define MOE4_WORKER_TRAIN_JOB_SPEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::worker {

absl::StatusOr<moe4::v1::JobAssignment> ParseJobSpec(const std::string& yaml_text);
absl::StatusOr<moe4::v1::JobAssignment> LoadJobSpecFile(const std::string& path);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_JOB_SPEC_H_
