// libFuzzer target: the campaign spec parser and validator
// (moe4::ParseCampaignSpec), then the sampler on every spec it accepts, with
// the same code path the coordinator's Submit takes (PlanCampaign).
//
// Properties checked beyond "no crash, no sanitizer report":
//   - a refusal is INVALID_ARGUMENT with a printable message naming a field
//     ("<field>: <reason>", optionally after "line N: ");
//   - an accepted spec is within every bound: 1 <= k <= |pool| <= 29,
//     1 <= budget <= C(|pool|, k) and <= the limit, and the sampler returns
//     exactly `budget` distinct ranks below C(|pool|, k).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "common/campaign_spec.h"
#include "common/catalogue.h"
#include "common/combinatorics.h"
#include "common/sampling.h"

namespace {

[[noreturn]] void Die(const char* what, const std::string& detail) {
  std::fprintf(stderr, "spec_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Printable ASCII plus the newline between problems: a refusal echoes parts
// of the input, and raw bytes from it must not reach a terminal or a log line.
bool Printable(std::string_view message) {
  for (unsigned char c : message) {
    if ((c < 0x20 && c != '\n') || c >= 0x7f) return false;
  }
  return true;
}

bool NamesAField(std::string_view message) {
  // Each line is "[line N: ]field: reason".
  size_t start = 0;
  while (start <= message.size()) {
    size_t end = message.find('\n', start);
    if (end == std::string_view::npos) end = message.size();
    std::string_view line = message.substr(start, end - start);
    if (line.rfind("line ", 0) == 0) {
      const size_t colon = line.find(": ");
      if (colon == std::string_view::npos) return false;
      line.remove_prefix(colon + 2);
    }
    const size_t colon = line.find(": ");
    if (colon == std::string_view::npos || colon == 0) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  moe4::SpecLimits limits;
  limits.max_budget = 2000;  // keeps one input fast; the bound logic is the same
  limits.max_epochs = 500;
  limits.max_spec_bytes = 64 * 1024;
  absl::StatusOr<moe4::CampaignSpec> spec = moe4::ParseCampaignSpec(yaml, limits);
  if (!spec.ok()) {
    if (!absl::IsInvalidArgument(spec.status())) Die("not INVALID_ARGUMENT", spec.status().ToString());
    const std::string_view message(spec.status().message().data(), spec.status().message().size());
    if (!Printable(message)) Die("refusal echoes raw bytes", std::string(message));
    if (message.empty() || !NamesAField(message)) {
      Die("refusal does not name a field", std::string(message));
    }
    return 0;
  }
  const int n = static_cast<int>(spec->pool.size());
  if (spec->name.empty()) Die("accepted without a name", "");
  if (n < 1 || n > static_cast<int>(moe4::FamilyCatalogue().size())) Die("pool size", std::to_string(n));
  if (spec->k < 1 || spec->k > n) Die("k out of bounds", std::to_string(spec->k));
  const uint64_t total = moe4::Binomial(n, spec->k);
  if (spec->budget < 1 || spec->budget > total || spec->budget > limits.max_budget) {
    Die("budget out of bounds", std::to_string(spec->budget));
  }
  if (spec->recipe.epochs() < 1 || spec->recipe.epochs() > limits.max_epochs) Die("epochs", "");
  if (!(spec->recipe.lr() > 0)) Die("lr", "");
  auto ranks = moe4::SampleCombinationRanks(spec->sampler, n, spec->k, spec->budget, spec->seed);
  if (!ranks.ok()) Die("sampler refused an accepted spec", ranks.status().ToString());
  if (ranks->size() != spec->budget) Die("sampler returned the wrong count", std::to_string(ranks->size()));
  std::set<uint64_t> distinct(ranks->begin(), ranks->end());
  if (distinct.size() != ranks->size()) Die("sampler returned duplicates", "");
  if (*distinct.rbegin() >= total) Die("rank out of range", std::to_string(*distinct.rbegin()));
  for (uint64_t r : *ranks) {
    if (moe4::FamiliesOfRank(*spec, r).size() != static_cast<size_t>(spec->k)) Die("unrank", "");
  }
  return 0;
}
