// The training recipe as the wire sends it (moe4::v1::Recipe), with the
// design's defaults and validation. Pure functions; safe from any thread.
#ifndef MOE4_WORKER_TRAIN_RECIPE_H_
#define MOE4_WORKER_TRAIN_RECIPE_H_

#include "absl/status/status.h"
#include "common/campaign_spec.h"
#include "moe4/v1/moe4.pb.h"
#include "worker/models/registry.h"

namespace moe4::worker {

// DefaultRecipe() (the design's recipe) is moe4::DefaultRecipe from
// common/campaign_spec.h: the coordinator and the worker share one copy.

// proto3 cannot tell "unset" from 0: fields for which 0 is not a legal value
// (epochs, batch_size, lr, gate_lr_scale, betas, warmup_start_factor,
// gate_temperature, width) take the default when 0. Fields where 0 means
// "off" (mixup, smoothing, B/H/O, clipping, warm-up, top-k, noise) keep 0.
void FillRecipeDefaults(moe4::v1::Recipe* recipe);

// Range checks; the message names the field, e.g. "recipe.lr must be > 0".
absl::Status ValidateRecipe(const moe4::v1::Recipe& recipe);

// Validates families (count 1..8, known to `registry`, no duplicates), the
// recipe and the dataset name.
absl::Status ValidateJob(const moe4::v1::JobAssignment& job, const FamilyRegistry& registry);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_RECIPE_H_
