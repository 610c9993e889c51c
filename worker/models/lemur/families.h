// The `lemur` catalogue: the 29 families as LEMUR's files build them
// (shared/LEMUR.md; docs/families.md names the file and commit each port
// follows). A table of id -> builder, in catalogue (byte) order; the worker's
// FamilyRegistry registers these for campaigns with `catalogue: lemur`.
// Immutable after first use; safe for concurrent use.
#ifndef MOE4_WORKER_MODELS_LEMUR_FAMILIES_H_
#define MOE4_WORKER_MODELS_LEMUR_FAMILIES_H_

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "worker/models/expert_options.h"

namespace moe4::worker::lemur {

struct LemurFamily {
  std::string id;  // catalogue id, e.g. "BayesianNet-1"
  std::function<torch::nn::AnyModule(const ExpertOptions&)> build;
};

// All 29, in byte order of their ids.
const std::vector<LemurFamily>& LemurFamilies();

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_FAMILIES_H_
