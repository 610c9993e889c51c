// PgJobStore: JobStore on PostgreSQL through libpqxx.
//
// Every statement is parameterised. Leasing claims a job in one statement
// (CTE + FOR UPDATE SKIP LOCKED + UPDATE ... RETURNING), so any number of
// coordinators on one database never hand out a job twice. Transactions that
// finish a job lock the campaign row before the job row (Cancel does the
// same), which keeps the lock order acyclic and lets the last job of a
// campaign mark it done without a race. libpqxx exceptions are caught here and
// returned as statuses (pg_errors.h). Safe for concurrent use: all state is in
// the database and the connection pool.
//
// Speed: the statements of the worker paths are prepared once per pooled
// connection (registered with the pool by the constructor), and some writes
// that always go together share one statement (data-modifying CTEs), to keep
// round trips and server-side parsing per trial down; CreateCampaign ANALYZEs
// jobs after inserting a campaign so the lease query is planned on real
// statistics.
//
// Files: pg_job_store.cc holds the writes (campaigns, the worker paths, the
// reaper), pg_job_store_queries.cc the read-only queries, pg_rows.h the
// conversions both share.
#pragma once

#include <string>

#include "coordinator/store/job_store.h"
#include "coordinator/store/pg_pool.h"

namespace moe4::coordinator {

struct PgJobStoreOptions {
  std::string instance_id = "coordinator";             // written to jobs.lease_owner
  absl::Duration backoff_base = absl::Seconds(5);      // retry delay after attempt 1, doubling
  absl::Duration backoff_max = absl::Minutes(5);       // cap of the retry delay
  absl::Duration worker_liveness = absl::Seconds(120); // a worker is live if seen this recently
  // asha: how long a promoted job waits for the worker holding its rung
  // checkpoint before any other worker may take it and retrain it from scratch.
  absl::Duration checkpoint_affinity = absl::Seconds(60);
};

class PgJobStore : public JobStore {
 public:
  // `pool` must outlive the store.
  PgJobStore(PgPool& pool, PgJobStoreOptions options);

  absl::Status Ping() override;

  absl::StatusOr<int64_t> CreateCampaign(const CampaignPlan& plan) override;
  absl::StatusOr<std::vector<moe4::v1::CampaignSummary>> ListCampaigns(int limit) override;
  absl::StatusOr<CampaignStatus> GetCampaign(int64_t campaign_id) override;
  absl::StatusOr<int> CancelCampaign(int64_t campaign_id) override;
  absl::Status PauseCampaign(int64_t campaign_id) override;
  absl::Status ResumeCampaign(int64_t campaign_id) override;
  absl::StatusOr<std::vector<moe4::v1::LeaderboardEntry>> Leaderboard(int64_t campaign_id, int top,
                                                                     bool by_final) override;
  absl::StatusOr<std::vector<moe4::v1::FamilyStat>> FamilyStats(int64_t campaign_id,
                                                               std::optional<int> rung = std::nullopt) override;
  absl::StatusOr<CampaignCandidates> Candidates(int64_t campaign_id) override;
  absl::StatusOr<std::vector<moe4::v1::WorkerInfo>> ListWorkers() override;
  absl::StatusOr<std::vector<moe4::v1::WorkerInfo>> ListWorkersById(int64_t after_id, int limit) override;
  absl::StatusOr<std::vector<moe4::v1::JobInfo>> ListJobs(const JobQuery& query) override;
  absl::StatusOr<moe4::v1::GetJobResponse> GetJob(int64_t job_id) override;
  absl::StatusOr<std::vector<moe4::v1::PairStat>> PairStats(int64_t campaign_id, double top_fraction,
                                                           std::optional<int> rung = std::nullopt) override;
  absl::StatusOr<std::vector<moe4::v1::EcologyPoint>> Ecology(int64_t campaign_id) override;
  absl::StatusOr<std::map<std::string, int64_t>> CountJobsByState() override;

  absl::StatusOr<int64_t> RegisterWorker(const moe4::v1::RegisterRequest& req) override;
  using JobStore::LeaseJob;
  absl::StatusOr<std::optional<moe4::v1::JobAssignment>> LeaseJob(const moe4::v1::LeaseRequest& req,
                                                                 absl::Duration lease) override;
  absl::StatusOr<HeartbeatResult> Heartbeat(const moe4::v1::HeartbeatRequest& req,
                                            absl::Duration lease) override;
  absl::StatusOr<int> ReportEpochs(const moe4::v1::ReportEpochsRequest& req,
                                   absl::Duration lease) override;
  absl::Status Complete(const moe4::v1::CompleteRequest& req) override;
  absl::StatusOr<FailResult> Fail(const moe4::v1::FailRequest& req) override;
  absl::StatusOr<std::vector<int64_t>> ObsoleteJobs(const std::vector<int64_t>& job_ids) override;

  absl::StatusOr<ReapResult> Reap() override;
  absl::StatusOr<int> ExtendHeldLeases(absl::Duration grace) override;

 private:
  absl::StatusOr<std::vector<moe4::v1::WorkerInfo>> ListWorkersPage(int64_t after_id, int limit, bool by_id);
  PgPool& pool_;
  const PgJobStoreOptions options_;
};

}  // namespace moe4::coordinator
