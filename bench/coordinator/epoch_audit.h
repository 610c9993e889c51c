// After a load run: what the database actually holds for the campaign, so the
// throughput figure is checked against stored rows and not only against what
// the clients believe they did. Stateless; safe for concurrent use.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace moe4::bench {

struct EpochAudit {
  int64_t succeeded = 0;       // jobs in state 'succeeded'
  int64_t held = 0;            // jobs still 'leased' or 'running' (0 after a clean stop)
  int64_t full_curves = 0;     // jobs whose epoch rows are exactly 1..epochs
  int64_t succeeded_full = 0;  // succeeded jobs among full_curves
  int64_t epoch_rows = 0;      // all epoch rows of the campaign

  // Empty when every finished trial the clients counted (`client_trials`) is a
  // succeeded job with epochs 1..epochs and nothing else is stored; else what
  // differs.
  std::string Problems(int64_t client_trials, int epochs) const;
};

absl::StatusOr<EpochAudit> AuditEpochs(const std::string& conninfo, int64_t campaign_id, int epochs);

}  // namespace moe4::bench
