#include "common/auth.h"

#include <cstdlib>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace moe4 {
namespace {
constexpr size_t kMaxTokenBytes = 4096;
constexpr std::string_view kBearerPrefix = "Bearer ";
}  // namespace

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("token file ", path, ": cannot open"));
  std::string line;
  std::getline(in, line);
  const std::string token(absl::StripAsciiWhitespace(line));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat("token file ", path, ": empty first line"));
  if (token.size() > kMaxTokenBytes) {
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, ": token longer than ", kMaxTokenBytes, " bytes"));
  }
  return token;
}

absl::StatusOr<std::string> LoadToken(const std::string& file_path, const char* env_var) {
  if (!file_path.empty()) return ReadTokenFile(file_path);
  if (const char* value = std::getenv(env_var); value != nullptr) {
    const std::string token(absl::StripAsciiWhitespace(value));
    if (!token.empty() && token.size() <= kMaxTokenBytes) return token;
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", env_var, ": empty or too long token"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("no token: give a token file or set the environment variable ", env_var));
}

std::string BearerValue(std::string_view token) { return std::string(kBearerPrefix) + std::string(token); }

std::string_view TokenFromBearer(std::string_view header_value) {
  if (header_value.substr(0, kBearerPrefix.size()) != kBearerPrefix) return {};
  return header_value.substr(kBearerPrefix.size());
}

bool TokensEqual(std::string_view a, std::string_view b) {
  // Compare every byte of the longer input whatever the lengths, so the time
  // taken says nothing about how much of a guess was right.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0;
    const unsigned char y = i < b.size() ? b[i] : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0 && n > 0;
}

}  // namespace moe4
