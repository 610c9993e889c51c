// Process-wide logging set-up on spdlog: one line per event, with the program
// name, to stderr. Call InitLogging once from main() before any thread starts.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace moe4 {

// level: trace | debug | info | warn | error. Unknown level -> InvalidArgument.
absl::Status InitLogging(std::string_view program, std::string_view level);

}  // namespace moe4
