// Whether a planned campaign's jobs fit the registered workers: each job's
// peak memory is estimated from its spec (common/memory_estimate.h) and the
// heaviest is compared with the device memory of every registered worker,
// alive or not, of the spec's device kind. Pure logic; safe for concurrent
// use.
//
// Refused (INVALID_ARGUMENT, naming the fields to change) when the heaviest
// job needs more than the largest such worker has; accepted with a warning
// when no worker is registered yet, when one reports no memory size, or when
// some workers are smaller than the heaviest job. The estimate does not route
// jobs (jobs.min_memory_mb stays what the spec and out-of-memory failures
// say): it is a conservative order-of-magnitude figure, and a worker it
// deems too small may still run the lighter combinations.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/store/job_store.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::coordinator {

struct CampaignMemoryCheck {
  int64_t heaviest_mb = 0;                   // estimate of the heaviest job
  std::vector<std::string> heaviest_families;
  int64_t jobs = 0;                          // jobs estimated
  std::vector<std::string> warnings;         // one line each
};

absl::StatusOr<CampaignMemoryCheck> CheckCampaignMemory(const CampaignPlan& plan,
                                                        const std::vector<moe4::v1::WorkerInfo>& workers);

}  // namespace moe4::coordinator
