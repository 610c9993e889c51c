#include "coordinator/service/validation.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace moe4::coordinator {

absl::Status CheckString(absl::string_view field, absl::string_view value, size_t min_len,
                         size_t max_len, bool token_chars) {
  if (value.size() < min_len || value.size() > max_len) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: must be %d..%d bytes, got %d", field,
                                                      min_len, max_len, value.size()));
  }
  for (unsigned char c : value) {
    // Free text may span lines (failure reasons carry stack traces).
    const bool control = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f;
    if (token_chars ? (c <= 0x20 || c >= 0x7f) : control) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, token_chars ? ": only printable ASCII without spaces is allowed"
                             : ": control characters are not allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRange(absl::string_view field, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: must be in [%d, %d], got %d", field, lo, hi, value));
  }
  return absl::OkStatus();
}

absl::Status CheckFiniteRange(absl::string_view field, double value, double lo, double hi) {
  if (!std::isfinite(value) || value < lo || value > hi) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: must be a finite number in [%g, %g], got %g", field, lo, hi, value));
  }
  return absl::OkStatus();
}

absl::Status CheckId(absl::string_view field, int64_t value) {
  if (value <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be a positive id, got ", value));
  }
  return absl::OkStatus();
}

}  // namespace moe4::coordinator
