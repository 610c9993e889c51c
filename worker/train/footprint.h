// Measures a family's FamilyFootprint (common/family_footprint.h) on the real
// network: parameter counts at two widths and two class counts, and the
// bytes one training-mode forward pass leaves held by the autograd graph for
// backward, at two input sizes and two widths. The heap in use (glibc's
// mallinfo2: LibTorch's CPU allocator takes its memory from malloc) is read
// before and after the forward with the output still alive; a warm-up
// forward first lets lazily built buffers (masks, position tables) settle.
// Call with one intra-op thread (the measurements are then repeatable to a
// few bytes). Not thread-safe: it reads the process-wide heap.
#ifndef MOE4_WORKER_TRAIN_FOOTPRINT_H_
#define MOE4_WORKER_TRAIN_FOOTPRINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/family_footprint.h"
#include "worker/models/registry.h"

namespace moe4::worker {

// The row of `family` in `catalogue`; an error when it cannot be built or
// run at the sizes the row measures.
absl::StatusOr<FamilyFootprint> MeasureFamilyFootprint(const FamilyRegistry& registry, Catalogue catalogue,
                                                       const std::string& family);

// The gate's row (K = kFootprintGateExperts, 3 channels; width plays no part).
FamilyFootprint MeasureGateFootprint();

// Input sides a family's row is measured at: the larger of 32 and the
// family's minimum, and twice that capped at the family's maximum.
int FootprintSmallSize(Catalogue catalogue, const std::string& family);
int FootprintLargeSize(Catalogue catalogue, const std::string& family);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_FOOTPRINT_H_
