// JobStore: everything the coordinator keeps, behind one interface.
//
// The services and the reaper see only this interface; PgJobStore implements it
// on PostgreSQL (the single source of truth, shared by every coordinator on the
// database). Read models are the wire protos, which the services return as they
// are. Implementations must be safe for concurrent use.
//
// Worker writes are fenced: each carries (worker_id, job_id, attempt) and is
// refused with FAILED_PRECONDITION unless that worker holds that attempt of the
// job (state leased or running). Duplicates of a write that already took effect
// (a retried Complete after a lost reply) succeed without effect.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/campaign_spec.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::coordinator {

// One job to create: a sampled combination.
struct PlannedJob {
  uint64_t rank = 0;                  // combination rank over the pool
  std::vector<std::string> families;  // K ids, byte order
  uint64_t seed = 0;                  // ReplicateSeed(campaign seed, rank, replicate)
  int replicate = 0;                  // 0-based run of this combination (spec.replicates)
};

// A validated campaign and its sampled jobs, ready to be written.
struct CampaignPlan {
  CampaignSpec spec;
  std::string spec_yaml;
  std::vector<PlannedJob> jobs;       // in the order they should run: every combination once, then again per replicate
};

struct HeartbeatResult {
  bool cancel = false;                // stop the job: campaign cancelled/paused, job timed out
  int64_t lease_deadline_unix_ms = 0; // 0 when cancel
  // When cancel: why, so the worker knows whether its checkpoint will be
  // needed again (paused) or not (cancelled, timed out).
  moe4::v1::StopReason stop_reason = moe4::v1::STOP_REASON_UNSPECIFIED;
};

struct FailResult {
  bool will_retry = false;
};

// What one reaper sweep did.
struct ReapResult {
  int requeued = 0;     // expired leases put back to pending
  int failed = 0;       // expired leases that used up max_attempts
  int timed_out = 0;    // jobs over max_job_seconds, failed
  int campaigns_done = 0;
};

// A group of pending jobs with the same requirements, for "why pending".
struct PendingGroup {
  std::string device_kind;   // "" = any
  int64_t min_memory_mb = 0;
  int count = 0;
};

// A worker seen recently (its last call is within the liveness window).
struct LiveWorker {
  std::string device_kind;
  int64_t device_memory_mb = 0;
};

// Campaign status plus what the scheduler needs to explain pending jobs.
struct CampaignStatus {
  moe4::v1::GetResponse response;     // all but pending_reason
  std::vector<PendingGroup> pending_ready;  // pending, not in backoff, by requirement
  std::vector<LiveWorker> live_workers;
  moe4::v1::CampaignState state = moe4::v1::CAMPAIGN_STATE_UNSPECIFIED;
};

// What became of one combination (all its replicates), for attrition.
struct CandidateOutcome {
  bool evaluated = false;    // a job succeeded
  bool failed = false;       // every job failed for good
  std::string reason;        // the first failed job's error, when failed
};

// The candidates of a campaign, for coverage.
struct CampaignCandidates {
  int k = 0;
  std::vector<std::string> pool;
  std::vector<std::vector<std::string>> families;  // one per combination (refills included)
  std::vector<CandidateOutcome> outcomes;          // parallel to families
  bool refill = false;
  int refills = 0;
};

// Which jobs ListJobs returns: those of one campaign, in id order.
struct JobQuery {
  int64_t campaign_id = 0;
  std::string state;            // "" = every state, else a jobs.state value ("pending", ...)
  int64_t after_job_id = 0;     // paging: only jobs with a larger id
  int limit = 1000;             // at most this many
  bool include_epochs = false;  // also fill JobInfo.epochs
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // OK when the database answers.
  virtual absl::Status Ping() = 0;

  // --- campaigns (CampaignService) ---
  // Writes the campaign and all its jobs in one transaction; returns its id.
  virtual absl::StatusOr<int64_t> CreateCampaign(const CampaignPlan& plan) = 0;
  virtual absl::StatusOr<std::vector<moe4::v1::CampaignSummary>> ListCampaigns(int limit) = 0;
  // NOT_FOUND for an unknown id.
  virtual absl::StatusOr<CampaignStatus> GetCampaign(int64_t campaign_id) = 0;
  // Cancels the campaign and every unfinished job; returns the jobs cancelled.
  virtual absl::StatusOr<int> CancelCampaign(int64_t campaign_id) = 0;
  // Pause: no new leases; running jobs are told to stop at their next
  // heartbeat and go back to pending without using up an attempt.
  virtual absl::Status PauseCampaign(int64_t campaign_id) = 0;
  virtual absl::Status ResumeCampaign(int64_t campaign_id) = 0;
  // asha campaigns: one entry per job with a rung result, at the highest
  // rung it reached, ranked by that rung first (LeaderboardEntry.rung).
  // Otherwise one entry per combination with a succeeded job (its replicates
  // averaged), best first: by validation accuracy at the selected epoch
  // (a campaign without a validation split: by the test accuracy there), or
  // with by_final by the final test accuracy. Ties by the first job id.
  virtual absl::StatusOr<std::vector<moe4::v1::LeaderboardEntry>> Leaderboard(int64_t campaign_id,
                                                                             int top,
                                                                             bool by_final) = 0;
  // Per family over the combinations containing it (v_family_stats), best
  // mean validation accuracy first.
  // asha campaigns: over the results of one rung (rung 0, every sampled
  // combination, by default; v_rung_family_stats). INVALID_ARGUMENT for a
  // rung the campaign does not have (any rung but 0 of a full campaign).
  virtual absl::StatusOr<std::vector<moe4::v1::FamilyStat>> FamilyStats(int64_t campaign_id,
                                                                       std::optional<int> rung = std::nullopt) = 0;
  virtual absl::StatusOr<CampaignCandidates> Candidates(int64_t campaign_id) = 0;
  // Every worker, by name.
  virtual absl::StatusOr<std::vector<moe4::v1::WorkerInfo>> ListWorkers() = 0;
  // A page of workers by id: those with an id above `after_id`, at most `limit`.
  virtual absl::StatusOr<std::vector<moe4::v1::WorkerInfo>> ListWorkersById(int64_t after_id, int limit) = 0;
  // NOT_FOUND for an unknown campaign.
  virtual absl::StatusOr<std::vector<moe4::v1::JobInfo>> ListJobs(const JobQuery& query) = 0;
  // The job and its epochs in order; NOT_FOUND for an unknown job.
  virtual absl::StatusOr<moe4::v1::GetJobResponse> GetJob(int64_t job_id) = 0;
  // Every family pair among the campaign's combinations with a result (the
  // unit; replicates averaged). A combination is "top" when it is among the
  // ceil(top_fraction * combinations) best by validation accuracy (a campaign
  // without a validation split: test accuracy at the selected epoch; ties by
  // first job id); expected_top = n * that realised top share. Ordered by
  // lift, then n_top, descending. top_fraction in (0, 1]. `rung` as in
  // FamilyStats (asha: the candidates of that rung, single runs).
  virtual absl::StatusOr<std::vector<moe4::v1::PairStat>> PairStats(int64_t campaign_id, double top_fraction,
                                                                   std::optional<int> rung = std::nullopt) = 0;
  // One point per succeeded job with at least one epoch, at its last epoch,
  // in job id order.
  virtual absl::StatusOr<std::vector<moe4::v1::EcologyPoint>> Ecology(int64_t campaign_id) = 0;
  // Job counts by state name ("pending", ...) over all campaigns, for /metrics.
  virtual absl::StatusOr<std::map<std::string, int64_t>> CountJobsByState() = 0;

  // --- workers (WorkerService) ---
  // Creates the worker or updates it when the name is known; returns its id.
  virtual absl::StatusOr<int64_t> RegisterWorker(const moe4::v1::RegisterRequest& req) = 0;
  // Claims the best pending job the worker can run, or nullopt. NOT_FOUND for
  // an unknown worker. A job fits when its device kind matches and its
  // min_memory_mb is at most the request's free_memory_mb (or, when that is
  // 0, the worker's registered device memory). Fills every JobAssignment field.
  virtual absl::StatusOr<std::optional<moe4::v1::JobAssignment>> LeaseJob(const moe4::v1::LeaseRequest& req,
                                                                         absl::Duration lease) = 0;
  // The same for a worker that says nothing of its free memory.
  absl::StatusOr<std::optional<moe4::v1::JobAssignment>> LeaseJob(int64_t worker_id, absl::Duration lease) {
    moe4::v1::LeaseRequest req;
    req.set_worker_id(worker_id);
    return LeaseJob(req, lease);
  }
  // job_id 0: the worker is idle and alive. Otherwise fenced; extends the lease
  // and records progress, or asks the worker to stop.
  virtual absl::StatusOr<HeartbeatResult> Heartbeat(const moe4::v1::HeartbeatRequest& req,
                                                    absl::Duration lease) = 0;
  // Fenced; upserts epoch rows, marks the job running, extends the lease.
  virtual absl::StatusOr<int> ReportEpochs(const moe4::v1::ReportEpochsRequest& req,
                                           absl::Duration lease) = 0;
  // Fenced; the result and the state change commit together.
  virtual absl::Status Complete(const moe4::v1::CompleteRequest& req) = 0;
  // Fenced; retryable failures go back to pending with backoff until
  // max_attempts.
  virtual absl::StatusOr<FailResult> Fail(const moe4::v1::FailRequest& req) = 0;
  // Of `job_ids`, those that will never run again (ObsoleteJobsResponse), in
  // ascending order.
  virtual absl::StatusOr<std::vector<int64_t>> ObsoleteJobs(const std::vector<int64_t>& job_ids) = 0;

  // --- reaper ---
  // Requeues expired leases (or fails them after max_attempts), fails jobs past
  // max_job_seconds, and marks finished campaigns done.
  virtual absl::StatusOr<ReapResult> Reap() = 0;
  // Moves every held lease's deadline to at least now + grace; returns how
  // many moved. The reaper calls it when it starts and when the database is
  // reachable again after an outage: workers that were alive all along but
  // could not heartbeat through the outage get one lease period to check in
  // before their jobs are taken from them. A dead worker's job comes back at
  // most one lease period later than it would have: a lease is given grace
  // again only after its worker was heard from since the last grace, so a
  // coordinator restarting in a loop cannot keep a dead worker's job.
  virtual absl::StatusOr<int> ExtendHeldLeases(absl::Duration grace) = 0;
};

}  // namespace moe4::coordinator
