// A campaign spec: the YAML a researcher submits with `moe4ctl submit`.
//
// The parser resolves every default (the design's recipe), checks every field
// and bound, and reports *all* problems at once, each naming the field path,
// its line in the YAML and the reason, e.g.
//   line 4: families[3]: unknown family "Resnet" (did you mean "ResNet"?)
// The same parser runs in moe4ctl (so mistakes are caught before anything is
// sent) and in the coordinator (which never trusts a client). Pure; safe for
// concurrent use.
//
// YAML shape (docs/spec.md documents every field and default):
//   name: fashion-moe4          # required, 1..100 chars of [A-Za-z0-9._-]
//   families: [AirNet, ...]     # the pool; default: the whole catalogue
//   exclude: [VGG]              # removed from the pool
//   k: 4                        # experts per ensemble, 1..8 (<= pool size)
//   sampler: stratified         # lexicographic | uniform | stratified | exhaustive
//   budget: 100                 # candidates; exhaustive: omit or C(N,K)
//   seed: 0
//   max_attempts: 3             # leases per job before it is failed
//   priority: 0                 # higher runs first
//   max_job_seconds: 0          # 0 = no per-job time budget
//   catalogue: lemur            # lemur (LEMUR's networks) | adapted (small-input designs)
//   replicates: 1               # runs per combination, 1..10, each with its own seed
//   refill: true                # replace combinations that fail for good, keeping the evaluated set stratified
//   selection: best_validation  # best_validation | final (final needs validation_fraction: 0)
//   dataset: {name: fashion-mnist, path: "", train_subset: 0, test_subset: 0, resize: 0,   # path: relative to --data-root
//             validation_fraction: 0.1, skip_bad_images: false}   # folder needs path; skip: folder/tinyimagenet
//   recipe: {epochs: 10, batch_size: 128, lr: 0.001, ...}   # see moe4.proto Recipe
//   requirements: {device_kind: "", min_memory_mb: 0}
//   schedule: {kind: asha, min_epochs: 1, max_epochs: 9, reduction_factor: 3,   # default {kind: full}
//              metric: validation_accuracy}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/catalogue_kind.h"
#include "common/sampling.h"
#include "common/schedule.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4 {

// Bounds applied to every spec; a coordinator may lower them by flag.
struct SpecLimits {
  uint64_t max_budget = 100000;    // jobs one campaign may create
  int max_epochs = 1000;           // recipe.epochs upper bound
  size_t max_spec_bytes = 256 * 1024;  // the YAML text itself
};

// How a job's reported epoch is chosen: the one with the best validation
// accuracy (earliest on ties), or the last one (only without a validation
// split). Test accuracy never selects anything.
enum class Selection { kBestValidation, kFinal };
std::string_view SelectionName(Selection selection);

inline constexpr double kDefaultValidationFraction = 0.1;
inline constexpr int kMaxReplicates = 10;

struct CampaignSpec {
  std::string name;
  std::vector<std::string> pool;   // resolved families, byte order, no duplicates
  int k = 4;
  SamplerKind sampler = SamplerKind::kStratified;
  uint64_t budget = 0;             // resolved (exhaustive: C(N, K))
  uint64_t seed = 0;
  int max_attempts = 3;
  int priority = 0;
  int64_t max_job_seconds = 0;
  Catalogue catalogue = kDefaultCatalogue;  // also in recipe.catalogue, for the workers
  Selection selection = Selection::kBestValidation;
  int replicates = 1;              // jobs per sampled combination
  bool refill = true;              // replace a combination whose jobs all failed for good
  moe4::v1::Recipe recipe;         // every field resolved to a value
  moe4::v1::DatasetSpec dataset;   // validation_fraction resolved, split_seed = seed
  moe4::v1::DeviceRequirement requirements;
  // asha: min/max epochs resolved, and recipe.epochs = max_epochs (the
  // learning-rate schedule spans the top rung). full: min = max = 0.
  ScheduleSpec schedule;
};

// Validation images held out of a class with `class_images` training images:
// round(fraction * class_images). The worker's split and the validator's
// estimate share it.
int64_t ValidationImagesOfClass(double fraction, int64_t class_images);

// Training images per class a dataset spec gives, for the validator's
// estimate: the smallest class of a known dataset (its size, or
// train_subset, spread over its classes); 0 when unknown.
int64_t EstimatedTrainingImagesPerClass(const moe4::v1::DatasetSpec& dataset);

// The design's training recipe defaults (epochs 10, batch 128, lr 1e-3, ...).
moe4::v1::Recipe DefaultRecipe();

moe4::v1::ExpertCatalogue ToProto(Catalogue catalogue);
Catalogue FromProto(moe4::v1::ExpertCatalogue catalogue);

// The square side of the images a job trains on: `resize`, else the
// dataset's native side (synthetic: its size option, default 32;
// tinyimagenet 64); 0 when unknown (a folder dataset without resize).
int InputImageSize(const moe4::v1::DatasetSpec& dataset);

// One message per pool family that `catalogue` cannot build for that input
// size, each naming the family, the size and the `resize` that would work.
std::vector<std::string> InputSizeProblems(Catalogue catalogue, const std::vector<std::string>& pool,
                                           const moe4::v1::DatasetSpec& dataset);

// What is wrong with a dataset.path that can be told without the disk, or ""
// when nothing is: an absolute path, or one with a ".." component (a
// dataset lives under each worker's --data-root, which the worker enforces
// again after resolving symlinks; see worker/data/loader.h).
std::string DatasetPathProblem(const std::string& path);

// Parses and validates. InvalidArgument with one line per problem.
absl::StatusOr<CampaignSpec> ParseCampaignSpec(std::string_view yaml, const SpecLimits& limits = {});

// The pool families of one sampled rank, in byte order.
std::vector<std::string> FamiliesOfRank(const CampaignSpec& spec, uint64_t rank);

// Per-job seed: the campaign seed mixed with the candidate rank, so two jobs of
// one campaign never share a random stream and a job's seed never changes.
uint64_t JobSeed(uint64_t campaign_seed, uint64_t rank);

// The seed of replicate r (0-based) of a combination: JobSeed for r = 0 (so
// campaigns without replicates keep their seeds), an independent derived
// seed for every further replicate.
uint64_t ReplicateSeed(uint64_t campaign_seed, uint64_t rank, int replicate);

}  // namespace moe4
