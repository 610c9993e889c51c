// The training recipe as the wire sends it (moe4::v1::Recipe), with the
// design's defaults and validation. Pure functions; safe from any thread.
#ifndef MOE4_WORKER_TRAIN_RECIPE_H_
#define MOE4_WORKER_TRAIN_RECIPE_H_

#include "absl/status/status.h"
#include "moe4/v1/moe4.pb.h"
#include "worker/models/registry.h"

namespace moe4::worker {

// The design's recipe: 10 epochs, batch 128, lr 1e-3 (gate 2x), weight decay
// 5e-4 (gate half), betas (0.9, 0.999), warm-up 5 epochs from 0.1 lr, cosine
// to 1e-6, clip 1.0, mixup 0.2, smoothing 0.1, B 0.01, H 0, O 0, T 2.0,
// noise 0.1, dense gate, width 1.0, seed 0.
moe4::v1::Recipe DefaultRecipe();

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
