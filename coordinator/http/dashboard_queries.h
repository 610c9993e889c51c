// The few reads the dashboard needs that JobStore does not offer (attempts of
// a job, per-worker totals, recent events, a change fingerprint), on the
// coordinator's pool, parameterised, one read-only transaction each. Safe for
// concurrent use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/store/pg_pool.h"

namespace moe4::coordinator {

struct AttemptRow {
  int attempt = 0;
  std::string worker;           // "" when unknown
  int64_t started_unix_ms = 0;
  int64_t ended_unix_ms = 0;    // 0 while running
  std::string outcome;          // "" while running
  std::string reason;
};

struct WorkerTotals {
  int64_t worker_id = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;            // attempts that ended failed, timed out or expired
  double images_per_second = 0;  // of its latest epoch row, 0 when none
  int threads = 0;
  std::string version;
};

struct EventRow {
  int64_t id = 0;
  int64_t at_unix_ms = 0;
  std::string kind;
  int64_t job_id = 0;
  int64_t worker_id = 0;
  std::string detail;
};

class DashboardQueries {
 public:
  explicit DashboardQueries(PgPool& pool) : pool_(pool) {}

  absl::StatusOr<std::vector<AttemptRow>> Attempts(int64_t job_id);
  // Totals of these workers (in worker id order; unknown ids are left out).
  absl::StatusOr<std::vector<WorkerTotals>> WorkerTotalsOf(const std::vector<int64_t>& worker_ids);
  // The latest events of a campaign, newest first.
  absl::StatusOr<std::vector<EventRow>> CampaignEvents(int64_t campaign_id, int limit);
  // Campaigns with an id >= `id` (how many a page starting below `id` skips).
  absl::StatusOr<int64_t> CampaignsFrom(int64_t id);
  // Changes whenever a job, campaign, worker or event row changes.
  absl::StatusOr<std::string> Fingerprint();

 private:
  PgPool& pool_;
};

}  // namespace moe4::coordinator
