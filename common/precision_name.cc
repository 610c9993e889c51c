#include "common/precision_name.h"

namespace moe4 {

std::string_view PrecisionSpecName(moe4::v1::Precision precision) {
  switch (precision) {
    case moe4::v1::PRECISION_BF16: return "bf16";
    case moe4::v1::PRECISION_FP16: return "fp16";
    case moe4::v1::PRECISION_AUTO: return "auto";
    default: return "fp32";
  }
}

std::optional<moe4::v1::Precision> ParsePrecisionSpecName(std::string_view text) {
  if (text == "fp32") return moe4::v1::PRECISION_FP32;
  if (text == "bf16") return moe4::v1::PRECISION_BF16;
  if (text == "fp16") return moe4::v1::PRECISION_FP16;
  if (text == "auto") return moe4::v1::PRECISION_AUTO;
  return std::nullopt;
}

}  // namespace moe4
