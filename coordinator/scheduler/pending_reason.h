// Why pending jobs are not running: the answer `moe4ctl status` prints instead
// of letting a campaign sit "pending forever". Pure; safe for concurrent use.
#pragma once

#include <string>
#include <vector>

#include "coordinator/store/job_store.h"

namespace moe4::coordinator {

// True when a worker with these capabilities may run a job with these
// requirements (the same rule as the lease query).
bool WorkerMatches(const LiveWorker& worker, const PendingGroup& job);

// "" when every group of ready pending jobs has a live worker that can run it
// (they are merely queued). Otherwise one clause per unmatched group plus the
// live workers, e.g.
//   "3 pending jobs need device_kind=cuda; live workers: 2 cpu"
//   "5 pending jobs; no live workers"
std::string ExplainPending(const std::vector<PendingGroup>& pending,
                           const std::vector<LiveWorker>& live);

}  // namespace moe4::coordinator
