// How much memory each catalogue family takes to train, measured on the real
// LibTorch networks by the worker tool moe4-family-footprint and checked in
// as common/family_footprint_table.inc, so that the coordinator and moe4ctl
// (which never link LibTorch) can estimate a job's memory
// (common/memory_estimate.h).
//
// What one row holds, per (catalogue, family) and for the gate:
//   parameters at width 1 and width 0.5 (10 classes, 3 channels), and the
//   parameters each extra class adds at width 1; the exponent of
//   parameters against width comes from the two widths.
//   activation bytes per image: what the autograd graph of one training-mode
//   forward pass keeps alive until backward (measured as the growth of the
//   heap in use across the forward, fp32, batch 2, divided by 2), at two
//   square input sizes (small_size, the larger of 32 and the family's
//   minimum, and large_size, twice that or the family's maximum) at width 1,
//   and at small_size at width 0.5.
// tests/worker (FamilyFootprint.TableMatchesTheModels) re-measures every row
// and fails when the table drifts from the networks. Immutable; safe for
// concurrent use.
#ifndef MOE4_COMMON_FAMILY_FOOTPRINT_H_
#define MOE4_COMMON_FAMILY_FOOTPRINT_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/catalogue_kind.h"

namespace moe4 {

struct FamilyFootprint {
  std::string_view catalogue;  // "lemur" | "adapted"; "" for the gate
  std::string_view family;     // catalogue id; "gate" for the gate
  int small_size = 0;          // square input side of the small measurement
  int large_size = 0;          // square input side of the large measurement
  int64_t parameters = 0;            // width 1, 10 classes, 3 channels
  int64_t parameters_half_width = 0; // width 0.5, 10 classes, 3 channels
  int64_t parameters_per_class = 0;  // width 1: (params at 100 classes - at 10) / 90
  int64_t activation_bytes_small = 0;       // per image, width 1, small_size
  int64_t activation_bytes_large = 0;       // per image, width 1, large_size
  int64_t activation_bytes_half_width = 0;  // per image, width 0.5, small_size
};

// The measured conditions every row shares.
inline constexpr int kFootprintChannels = 3;
inline constexpr int kFootprintClasses = 10;
inline constexpr int kFootprintBatch = 2;
inline constexpr int kFootprintGateExperts = 4;

// Every row of the checked-in table: both catalogues' families and the gate.
const std::vector<FamilyFootprint>& FamilyFootprints();

// The row of `family` in `catalogue`, or nullptr when the table has none.
const FamilyFootprint* FindFamilyFootprint(Catalogue catalogue, std::string_view family);

// The gate's row (always present).
const FamilyFootprint& GateFootprint();

// The LibTorch version the table was measured with ("1.13.0"). Another
// version (the torch2 flavour) builds the same parameters but may keep other
// tensors for backward, so the drift check compares activations loosely
// there.
std::string_view FootprintTorchVersion();

// The command that regenerates the table, for error messages and docs.
inline constexpr std::string_view kFootprintRegenerateCommand =
    "build/worker/moe4-family-footprint --write common/family_footprint_table.inc";

}  // namespace moe4

#endif  // MOE4_COMMON_FAMILY_FOOTPRINT_H_
