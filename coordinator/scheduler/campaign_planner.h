// Campaign planning: from the submitted YAML to the jobs to create, and the
// coverage of a set of candidates. Pure logic over common/ (spec parsing,
// samplers, combinatorics); no I/O. Safe for concurrent use.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/campaign_spec.h"
#include "coordinator/store/job_store.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::coordinator {

// Parses and validates the spec (INVALID_ARGUMENT listing every problem),
// samples its candidates and gives each its families and seed; each
// candidate becomes spec.replicates jobs with independent seeds. Deterministic:
// the same YAML always gives the same plan.
absl::StatusOr<CampaignPlan> PlanCampaign(std::string_view spec_yaml, const SpecLimits& limits);

// The replacement for a combination whose jobs all failed for good (refill).
// Per pool family i: live[i] combinations containing it that have succeeded
// or may still (a job pending, leased, running or succeeded), succeeded[i]
// those with a succeeded job, failed[i] those whose every job failed. A
// failure cannot say which family caused it, so a family is a suspect while
// it has failed more often than it succeeded; suspects come last (a family
// that always fails is not tried again and again), the others in the order
// of their live count (furthest below their share first), then a seeded
// tie-break. The first K-combination in that order that is not in `taken`
// (ranks over the pool) is the answer, so the evaluated set stays as even as
// the pool allows. nullopt when every combination is taken.
std::optional<uint64_t> ChooseReplacement(int pool_size, int k, const std::vector<int>& live,
                                          const std::vector<int>& succeeded, const std::vector<int>& failed,
                                          const std::set<uint64_t>& taken, uint64_t seed);

// Fills the attrition fields of `coverage` (CoverageOf the same candidates):
// per family the evaluated and failed combinations, failures by reason, the
// evaluated share and whether it lies within the stratified bounds
// [floor(E*K/N'), ceil(E*K/N')] for E evaluated combinations, where N' counts
// the families that did not fail in every combination tried (those are
// reported by their failures and never within bounds).
void AddAttrition(const CampaignCandidates& candidates, moe4::v1::CoverageResponse* coverage);

// Coverage of `candidates` (family ids, each a subset of `pool`) as the wire
// message. Families outside the pool are ignored.
moe4::v1::CoverageResponse CoverageOf(const std::vector<std::string>& pool, int k,
                                      const std::vector<std::vector<std::string>>& candidates);

}  // namespace moe4::coordinator
