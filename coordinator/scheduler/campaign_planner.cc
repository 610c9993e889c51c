#include "coordinator/scheduler/campaign_planner.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <tuple>

#include "common/combinatorics.h"
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
  plan.jobs.reserve(ranks->size() * static_cast<size_t>(spec->replicates));
  // Replicate-major: every combination runs once before any runs twice, so a
  // campaign stopped early still covers the families as the sampler planned.
  for (int replicate = 0; replicate < spec->replicates; ++replicate) {
    for (uint64_t rank : *ranks) {
      plan.jobs.push_back(
          PlannedJob{rank, FamiliesOfRank(*spec, rank), ReplicateSeed(spec->seed, rank, replicate), replicate});
    }
  }
  plan.spec = *std::move(spec);
  return plan;
}

std::optional<uint64_t> ChooseReplacement(int pool_size, int k, const std::vector<int>& live,
                                          const std::vector<int>& succeeded, const std::vector<int>& failed,
                                          const std::set<uint64_t>& taken, uint64_t seed) {
  if (k < 1 || k > pool_size || static_cast<int>(live.size()) != pool_size ||
      static_cast<int>(succeeded.size()) != pool_size || static_cast<int>(failed.size()) != pool_size) {
    return std::nullopt;
  }
  std::vector<int> order(pool_size);
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](int i) {
    const bool suspect = failed[i] > succeeded[i];
    return std::make_tuple(suspect, live[i], failed[i], JobSeed(seed, static_cast<uint64_t>(i)));
  };
  std::sort(order.begin(), order.end(), [&](int a, int b) { return key(a) < key(b); });
  // K-combinations of positions in `order`, in lexicographic order: the
  // first ones use the families furthest below their share.
  std::vector<int> pos(k);
  std::iota(pos.begin(), pos.end(), 0);
  constexpr int kMaxTries = 100000;
  for (int tries = 0; tries < kMaxTries; ++tries) {
    std::vector<int> combination;
    for (int p : pos) combination.push_back(order[p]);
    std::sort(combination.begin(), combination.end());
    const uint64_t rank = RankCombination(combination, pool_size);
    if (taken.count(rank) == 0) return rank;
    int i = k - 1;
    while (i >= 0 && pos[i] == pool_size - k + i) --i;
    if (i < 0) return std::nullopt;
    ++pos[i];
    for (int j = i + 1; j < k; ++j) pos[j] = pos[j - 1] + 1;
  }
  return std::nullopt;
}

namespace {

// A failure reason as a short key: its first line, without the "(attempt i
// of n)" the store appends, at most 80 characters.
std::string ReasonKey(const std::string& reason) {
  std::string key = reason.substr(0, reason.find('\n'));
  const size_t attempt = key.rfind(" (attempt ");
  if (attempt != std::string::npos) key.resize(attempt);
  if (key.size() > 80) key = key.substr(0, 77) + "...";
  return key.empty() ? "unknown" : key;
}

}  // namespace

void AddAttrition(const CampaignCandidates& candidates, moe4::v1::CoverageResponse* coverage) {
  const int n = static_cast<int>(candidates.pool.size());
  std::vector<int> evaluated(n, 0), failed(n, 0);
  std::vector<std::map<std::string, int>> reasons(n);
  int evaluated_total = 0, failed_total = 0;
  for (size_t c = 0; c < candidates.families.size() && c < candidates.outcomes.size(); ++c) {
    const CandidateOutcome& outcome = candidates.outcomes[c];
    evaluated_total += outcome.evaluated;
    failed_total += outcome.failed;
    for (const auto& family : candidates.families[c]) {
      const auto it = std::lower_bound(candidates.pool.begin(), candidates.pool.end(), family);
      if (it == candidates.pool.end() || *it != family) continue;
      const size_t i = static_cast<size_t>(it - candidates.pool.begin());
      evaluated[i] += outcome.evaluated;
      failed[i] += outcome.failed;
      if (outcome.failed) ++reasons[i][ReasonKey(outcome.reason)];
    }
  }
  coverage->set_evaluated_candidates(evaluated_total);
  coverage->set_failed_candidates(failed_total);
  coverage->set_refill(candidates.refill);
  coverage->set_refills(candidates.refills);
  // A family that failed in every combination tried gives no result at all:
  // the others share the evaluated slots ("as far as the pool allows").
  int alive = 0;
  for (int i = 0; i < n; ++i) alive += !(failed[i] > 0 && evaluated[i] == 0);
  const double ideal = alive > 0 ? static_cast<double>(evaluated_total) * candidates.k / alive : 0;
  const int low = static_cast<int>(std::floor(ideal + 1e-9)), high = static_cast<int>(std::ceil(ideal - 1e-9));
  for (int i = 0; i < n && i < coverage->families_size(); ++i) {
    moe4::v1::FamilyCoverage* f = coverage->mutable_families(i);
    f->set_evaluated(evaluated[i]);
    f->set_evaluated_share(evaluated_total > 0 ? static_cast<double>(evaluated[i]) / evaluated_total : 0);
    f->set_failed(failed[i]);
    for (const auto& [reason, count] : reasons[i]) (*f->mutable_failures())[reason] = count;
    f->set_within_bounds(evaluated[i] >= low && evaluated[i] <= high);
  }
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
