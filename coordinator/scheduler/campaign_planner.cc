#include "coordinator/scheduler/campaign_planner.h"

#include <algorithm>

#include "common/sampling.h"

namespace moe4::coordinator {

absl::StatusOr<CampaignPlan> PlanCampaign(std::string_view spec_yaml, const SpecLimits& limits) {
  absl::StatusOr<CampaignSpec> spec = ParseCampaignSpec(spec_yaml, limits);
  if (!spec.ok()) return spec.status();
  absl::StatusOr<std::vector<uint64_t>> ranks =
      SampleCombinationRanks(spec->sampler, static_cast<int>(spec->pool.size()), spec->k,
                             spec->budget, spec->seed);
  if (!ranks.ok()) return ranks.status();
  CampaignPlan plan;
  plan.spec_yaml = std::string(spec_yaml);
  plan.jobs.reserve(ranks->size());
  for (uint64_t rank : *ranks) {
    plan.jobs.push_back(PlannedJob{rank, FamiliesOfRank(*spec, rank), JobSeed(spec->seed, rank)});
  }
  plan.spec = *std::move(spec);
  return plan;
}

moe4::v1::CoverageResponse CoverageOf(const std::vector<std::string>& pool, int k,
                                      const std::vector<std::vector<std::string>>& candidates) {
  std::vector<std::vector<int>> combos;
  combos.reserve(candidates.size());
  for (const auto& families : candidates) {
    std::vector<int> idx;
    for (const auto& f : families) {
      // The pool is in byte order, so a binary search finds the index.
      auto it = std::lower_bound(pool.begin(), pool.end(), f);
      if (it != pool.end() && *it == f) idx.push_back(static_cast<int>(it - pool.begin()));
    }
    std::sort(idx.begin(), idx.end());
    combos.push_back(std::move(idx));
  }
  const CoverageReport report = ComputeCoverage(combos, static_cast<int>(pool.size()), k);
  moe4::v1::CoverageResponse out;
  out.set_candidates(report.candidates);
  out.set_max_min_ratio(report.max_min_ratio);
  out.set_pairs_covered(static_cast<int32_t>(report.pairs_covered));
  out.set_pairs_total(static_cast<int32_t>(report.pairs_total));
  for (size_t i = 0; i < pool.size() && i < report.families.size(); ++i) {
    moe4::v1::FamilyCoverage* f = out.add_families();
    f->set_family(pool[i]);
    f->set_count(report.families[i].count);
    f->set_share(report.families[i].share);
    f->set_ideal_share(report.ideal_share);
    f->set_anchor(report.families[i].anchor);
  }
  return out;
}

}  // namespace moe4::coordinator
