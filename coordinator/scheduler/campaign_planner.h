// Campaign planning: from the submitted YAML to the jobs to create, and the
// coverage of a set of candidates. Pure logic over common/ (spec parsing,
// samplers, combinatorics); no I/O. Safe for concurrent use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/campaign_spec.h"
#include "coordinator/store/job_store.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::coordinator {

// Parses and validates the spec (INVALID_ARGUMENT listing every problem),
// samples its candidates and gives each its families and seed. Deterministic:
// the same YAML always gives the same plan.
absl::StatusOr<CampaignPlan> PlanCampaign(std::string_view spec_yaml, const SpecLimits& limits);

// Coverage of `candidates` (family ids, each a subset of `pool`) as the wire
// message. Families outside the pool are ignored.
moe4::v1::CoverageResponse CoverageOf(const std::vector<std::string>& pool, int k,
                                      const std::vector<std::vector<std::string>>& candidates);

}  // namespace moe4::coordinator
