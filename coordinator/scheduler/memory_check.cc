#include "coordinator/scheduler/memory_check.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/memory_estimate.h"

namespace moe4::coordinator {

absl::StatusOr<CampaignMemoryCheck> CheckCampaignMemory(const CampaignPlan& plan,
                                                        const std::vector<moe4::v1::WorkerInfo>& workers) {
  const CampaignSpec& spec = plan.spec;
  std::vector<std::vector<std::string>> combinations;
  combinations.reserve(plan.jobs.size());
  for (const PlannedJob& job : plan.jobs) combinations.push_back(job.families);
  // Without a device: the kind-neutral figure (precision auto counted at
  // the larger of its cpu and cuda costs).
  CampaignMemoryEstimate neutral = EstimateCampaignMemory(spec, combinations);
  CampaignMemoryCheck check;
  check.jobs = static_cast<int64_t>(plan.jobs.size());
  check.heaviest_mb = neutral.heaviest_mb;
  check.heaviest_families = neutral.heaviest_families;
  check.warnings = std::move(neutral.warnings);
  if (check.jobs == 0) return check;

  // Workers that could lease these jobs at all: the spec's device kind. What
  // a job needs depends on the kind (precision auto is mixed on cuda only),
  // so each is compared with its own kind's estimate.
  std::map<std::string, CampaignMemoryEstimate> by_kind;
  const moe4::v1::WorkerInfo* best = nullptr;  // the most headroom
  int64_t best_headroom = 0;
  int matching = 0, unknown = 0, smaller = 0;
  for (const auto& w : workers) {
    if (!spec.requirements.device_kind().empty() && w.device_kind() != spec.requirements.device_kind()) continue;
    ++matching;
    if (w.device_memory_mb() <= 0) {
      ++unknown;
      continue;
    }
    auto it = by_kind.find(w.device_kind());
    if (it == by_kind.end()) {
      it = by_kind.emplace(w.device_kind(), EstimateCampaignMemory(spec, combinations, w.device_kind())).first;
    }
    const int64_t headroom = w.device_memory_mb() - it->second.heaviest_mb;
    if (headroom < 0) ++smaller;
    if (best == nullptr || headroom > best_headroom) best = &w, best_headroom = headroom;
  }
  const std::string kind =
      spec.requirements.device_kind().empty() ? "" : absl::StrCat(" of device kind ", spec.requirements.device_kind());
  if (matching == 0) {
    check.warnings.push_back(absl::StrCat("memory: no worker", kind, " is registered yet, so the estimate of ~",
                                          check.heaviest_mb, " MiB for the heaviest job (",
                                          absl::StrJoin(check.heaviest_families, " + "),
                                          ") was not checked against any device"));
    return check;
  }
  if (best != nullptr) {
    // The figure for the device the campaign is likeliest to run on.
    const CampaignMemoryEstimate& fit = by_kind.at(best->device_kind());
    check.heaviest_mb = fit.heaviest_mb;
    check.heaviest_families = fit.heaviest_families;
  }
  const std::string heaviest = absl::StrJoin(check.heaviest_families, " + ");
  // A worker that reports no memory size might hold anything: no refusal.
  if (unknown == 0 && best_headroom < 0) {
    const CampaignMemoryEstimate& fit = by_kind.at(best->device_kind());
    int64_t over = 0;
    for (int64_t mb : fit.combination_mb) over += mb > best->device_memory_mb() ? 1 : 0;
    return absl::InvalidArgumentError(absl::StrCat(
        "memory: recipe.batch_size x dataset.resize x recipe.width: the heaviest job (", heaviest, ") needs ~",
        fit.heaviest_mb, " MiB on ", best->device_kind(), " (estimate from ", MemoryEstimateFields(spec),
        "), more than the largest registered worker", kind, " has (", best->device_memory_mb(), " MiB, worker '",
        best->name(), "'); ", over, " of ", check.jobs,
        " jobs would not fit. Lower recipe.batch_size, dataset.resize or recipe.width, leave out the heaviest "
        "families, or register a worker with more memory"));
  }
  if (unknown > 0) {
    check.warnings.push_back(absl::StrCat("memory: ", unknown, " registered worker(s)", kind,
                                          " report no device memory, so the estimate of ~", check.heaviest_mb,
                                          " MiB for the heaviest job (", heaviest, ") was not checked against them"));
  }
  if (smaller > 0) {
    check.warnings.push_back(absl::StrCat("memory: the heaviest job (", heaviest, ") needs ~", check.heaviest_mb,
                                          " MiB (estimate); ", smaller, " of ", matching, " registered worker(s)", kind,
                                          " have less and may run out of memory on it"));
  }
  return check;
}

}  // namespace moe4::coordinator
