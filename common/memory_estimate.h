// Estimates the peak memory (MiB) of training one job from its spec fields,
// without LibTorch, from the measured family table (common/family_footprint.h):
//
//   per expert and the gate:
//     parameters(width, classes) x bytes per parameter
//       (16 in fp32: weight, gradient, AdamW's two moments; 18 when the step
//        runs in bf16/fp16: autocast's half copy of the weights)
//   + activation bytes per image(input pixels, width) x batch size
//       (x 0.6 in bf16/fp16: autocast keeps normalisations, softmax and
//        reductions in fp32; auto is bf16/fp16 on a cuda device and fp32
//        on a cpu, and counts as the larger of both where the device is
//        not known)
//   + the input batch, four copies (the batch, its mixup, the device copy
//     and its normalisation)
//   sum x 1.25 (backward's transient gradients of activations, allocator
//   slack) + 512 MiB (LibTorch runtime, a CUDA context, the dataset's batch
//   pipeline).
//
// How each term scales beyond the measured points: parameters follow the
// power law of width measured between widths 0.5 and 1, plus the per-class
// head; activations follow width the same way, and pixels by a power law
// between the two measured input sizes when they grow faster than the
// pixels (attention), else by the straight line through them (a fixed part,
// such as a classifier head, plus a part proportional to pixels).
// tests/worker/memory_estimate_check.py trains real jobs on CPU and checks
// the estimate against their peak RSS (docs/spec.md, "Memory estimate").
// Pure; safe for concurrent use.
#ifndef MOE4_COMMON_MEMORY_ESTIMATE_H_
#define MOE4_COMMON_MEMORY_ESTIMATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/campaign_spec.h"
#include "common/catalogue_kind.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4 {

inline constexpr double kMemorySafetyFactor = 1.25;
inline constexpr int64_t kMemoryRuntimeOverheadMb = 512;

struct JobMemoryInput {
  Catalogue catalogue = kDefaultCatalogue;
  std::vector<std::string> families;  // the job's experts
  double width = 1.0;                 // recipe.width
  int batch_size = 128;               // recipe.batch_size
  int image_size = 32;                // square side after dataset.resize
  int channels = 3;                   // image channels
  int classes = 10;                   // logits per expert
  moe4::v1::Precision precision = moe4::v1::PRECISION_FP32;
  // The device kind the job runs on ("cpu", "cuda"), which decides what
  // precision auto means; "" = not known.
  std::string device_kind;
};

struct JobMemoryEstimate {
  int64_t total_mb = 0;          // what the job is estimated to need at its peak
  int64_t parameters = 0;        // experts and gate, at the job's width and classes
  int64_t parameter_bytes = 0;   // parameters x bytes per parameter
  int64_t activation_bytes = 0;  // for the whole batch, input included
  // Families the table has no row for (a family added without regenerating
  // the table): they count as nothing, so the estimate is low.
  std::vector<std::string> unmeasured;
};

JobMemoryEstimate EstimateJobMemory(const JobMemoryInput& input);

// Image channels and class count of a dataset spec: the known datasets'
// figures, synthetic's options; folder datasets (unknown here) count 3
// channels and 100 classes.
int DatasetChannels(const moe4::v1::DatasetSpec& dataset);
int DatasetClasses(const moe4::v1::DatasetSpec& dataset);

// The input of one job of `spec` training `families` on a `device_kind`
// device ("" = the spec's requirements.device_kind, which may be "" too). A
// folder dataset without resize has no known size: its input counts at the
// pool's largest measured small size (a low figure; the caller says the
// size is unknown).
JobMemoryInput JobMemoryInputOf(const CampaignSpec& spec, const std::vector<std::string>& families,
                                const std::string& device_kind = "");

// The estimates of a campaign's combinations, shared by the coordinator's
// check against its workers (coordinator/scheduler/memory_check.h) and
// moe4ctl's dry run.
struct CampaignMemoryEstimate {
  int64_t heaviest_mb = 0;                      // the heaviest combination's total_mb
  std::vector<std::string> heaviest_families;
  int64_t lightest_mb = 0;
  std::vector<int64_t> combination_mb;          // per combination, in the order given
  // Lines to show the user: families without a table row, an unknown input
  // size. Each starts with "memory: ".
  std::vector<std::string> warnings;
};

CampaignMemoryEstimate EstimateCampaignMemory(const CampaignSpec& spec,
                                              const std::vector<std::vector<std::string>>& combinations,
                                              const std::string& device_kind = "");

// "recipe.batch_size 4096, dataset.resize 512, recipe.width 4,
// recipe.precision auto, lemur catalogue": what an estimate was made from.
std::string MemoryEstimateFields(const CampaignSpec& spec);

}  // namespace moe4

#endif  // MOE4_COMMON_MEMORY_ESTIMATE_H_
