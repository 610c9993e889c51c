// Bearer-token helpers shared by the coordinator, the worker and moe4ctl.
//
// Tokens come from files or the environment, never from the command line (where
// `ps` would show them). Stateless; safe for concurrent use.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace moe4 {

inline constexpr std::string_view kAuthMetadataKey = "authorization";

// Reads a token file: the first line, surrounding whitespace trimmed. Errors
// name the file and the problem (missing, unreadable, empty, too long).
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Token from `file_path` when it is non-empty, else from the environment
// variable `env_var`; an error naming both when neither gives one.
absl::StatusOr<std::string> LoadToken(const std::string& file_path, const char* env_var);

// "Bearer <token>".
std::string BearerValue(std::string_view token);

// Extracts the token from an "authorization" metadata value ("Bearer x").
// Empty when the value is not a bearer credential.
std::string_view TokenFromBearer(std::string_view header_value);

// Constant-time equality, so response timing does not leak a token's prefix.
bool TokensEqual(std::string_view a, std::string_view b);

}  // namespace moe4
