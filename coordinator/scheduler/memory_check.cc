#include "coordinator/scheduler/memory_check.h"

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
  CampaignMemoryEstimate estimate = EstimateCampaignMemory(spec, combinations);
  CampaignMemoryCheck check;
  check.jobs = static_cast<int64_t>(plan.jobs.size());
  check.heaviest_mb = estimate.heaviest_mb;
  check.heaviest_families = estimate.heaviest_families;
  check.warnings = std::move(estimate.warnings);
  if (check.jobs == 0) return check;
  const std::string heaviest = absl::StrJoin(check.heaviest_families, " + ");

  // Workers that could lease these jobs at all: the spec's device kind.
  const moe4::v1::WorkerInfo* largest = nullptr;
  int matching = 0, unknown = 0, smaller = 0;
  for (const auto& w : workers) {
    if (!spec.requirements.device_kind().empty() && w.device_kind() != spec.requirements.device_kind()) continue;
    ++matching;
    if (w.device_memory_mb() <= 0) {
      ++unknown;
      continue;
    }
    if (w.device_memory_mb() < check.heaviest_mb) ++smaller;
    if (largest == nullptr || w.device_memory_mb() > largest->device_memory_mb()) largest = &w;
  }
  const std::string kind =
      spec.requirements.device_kind().empty() ? "" : absl::StrCat(" of device kind ", spec.requirements.device_kind());
  if (matching == 0) {
    check.warnings.push_back(absl::StrCat("memory: no worker", kind, " is registered yet, so the estimate of ~",
                                          check.heaviest_mb, " MiB for the heaviest job (", heaviest,
                                          ") was not checked against any device"));
    return check;
  }
  // A worker that reports no memory size might hold anything: no refusal.
  if (unknown == 0 && largest->device_memory_mb() < check.heaviest_mb) {
    int64_t over = 0;
    for (int64_t mb : estimate.combination_mb) over += mb > largest->device_memory_mb() ? 1 : 0;
    return absl::InvalidArgumentError(absl::StrCat(
        "memory: recipe.batch_size x dataset.resize x recipe.width: the heaviest job (", heaviest, ") needs ~",
        check.heaviest_mb, " MiB (estimate from ", MemoryEstimateFields(spec),
        "), more than the largest registered worker", kind, " has (", largest->device_memory_mb(), " MiB, worker '",
        largest->name(), "'); ", over, " of ", check.jobs,
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
