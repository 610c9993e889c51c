// The recipe's `precision` as the spec writes it ("fp32", "bf16", "fp16",
// "auto") and as the wire carries it (moe4::v1::Precision). What each means
// on a device is the worker's business (worker/train/precision.h). Pure
// functions; safe from any thread.
#ifndef MOE4_COMMON_PRECISION_NAME_H_
#define MOE4_COMMON_PRECISION_NAME_H_

#include <optional>
#include <string_view>

#include "moe4/v1/moe4.pb.h"

namespace moe4 {

// "fp32" | "bf16" | "fp16" | "auto"; UNSPECIFIED (a campaign stored before
// the field existed, trained in fp32) reads "fp32".
std::string_view PrecisionSpecName(moe4::v1::Precision precision);

// The enum for a spec's text; nullopt for anything else.
std::optional<moe4::v1::Precision> ParsePrecisionSpecName(std::string_view text);

// For error messages: "fp32, bf16, fp16 or auto".
inline constexpr std::string_view kPrecisionChoices = "fp32, bf16, fp16 or auto";

}  // namespace moe4

#endif  // MOE4_COMMON_PRECISION_NAME_H_
