#include "coordinator/store/pg_job_store.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <utility>
#include <vector>
#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/combinatorics.h"
#include "common/sampling.h"
#include "coordinator/scheduler/asha.h"
#include "coordinator/scheduler/campaign_planner.h"
#include "coordinator/store/pg_rows.h"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {
namespace {

// Rows per INSERT when materialising jobs: keeps one statement's parameters
// to a few megabytes even for a 100,000-job campaign.
constexpr size_t kJobInsertChunk = 5000;

using pg_rows::CountsJson;
using pg_rows::Float8ArrayLiteral;
using pg_rows::Float8Text;
using pg_rows::JsonTextArray;
using pg_rows::MessageJson;
using pg_rows::NoCampaign;
using pg_rows::ParseMessageJson;
using pg_rows::Seconds;
using pg_rows::TextArrayLiteral;

// ---- prepared statements -------------------------------------------------
//
// The statements of the worker paths (Lease, Heartbeat, ReportEpochs,
// Complete, Fail) run for every trial, tens of times each; unprepared, the
// server parsed and planned each one every time, about half of its CPU per
// trial. They are prepared once per pooled connection (PgPool defines them on
// every new connection, also after a Postgres restart) and run by name with
// exec_prepared. Each name below goes with the SQL constant after it;
// PreparedStatements() pairs them for the pool. Rarely run statements stay
// unprepared.

constexpr const char* kEventName = "moe4_event";
constexpr const char* kEventSql =
    "INSERT INTO events (kind, campaign_id, job_id, worker_id, detail) "
    "VALUES ($1, nullif($2, 0), nullif($3, 0), nullif($4, 0), $5)";

constexpr const char* kLockCampaignOfJobName = "moe4_lock_campaign_of_job";
constexpr const char* kLockCampaignOfJobSql =
    "SELECT c.id FROM campaigns c WHERE c.id = (SELECT campaign_id FROM jobs WHERE id = $1) "
    "FOR UPDATE";

constexpr const char* kLockJobName = "moe4_lock_job";
constexpr const char* kLockJobSql =
    "SELECT j.campaign_id, j.state, j.attempt, coalesce(j.worker_id, 0), j.max_attempts, "
    "       cardinality(j.families), coalesce(j.target_epochs, c.epochs), c.state, j.rung, "
    "       c.schedule = 'asha', cardinality(c.rung_epochs) "
    "FROM jobs j JOIN campaigns c ON c.id = j.campaign_id WHERE j.id = $1 FOR UPDATE OF j";

constexpr const char* kTouchWorkerName = "moe4_touch_worker";
constexpr const char* kTouchWorkerSql = "UPDATE workers SET last_seen = now() WHERE id = $1";

constexpr const char* kMaybeFinishCampaignName = "moe4_maybe_finish_campaign";
constexpr const char* kMaybeFinishCampaignSql =
    "UPDATE campaigns c SET state = 'done', finished_at = now(), updated_at = now() "
    "WHERE c.id = $1 AND c.state = 'active' AND NOT EXISTS ("
    "  SELECT 1 FROM jobs j WHERE j.campaign_id = c.id "
    "  AND j.state IN ('pending', 'leased', 'running', 'waiting')) RETURNING c.id";

constexpr const char* kEndAttemptName = "moe4_end_attempt";
constexpr const char* kEndAttemptSql =
    "UPDATE attempts SET ended_at = now(), outcome = $3, reason = nullif($4, '') "
    "WHERE job_id = $1 AND attempt = $2";

constexpr const char* kLeaseWorkerName = "moe4_lease_worker";
constexpr const char* kLeaseWorkerSql =
    "UPDATE workers SET last_seen = now() WHERE id = $1 "
    "RETURNING device_kind, device_memory_mb";

// The claim: one statement. SKIP LOCKED makes concurrent claimers (other
// threads, other coordinators) pass over a row another claimer holds instead
// of waiting for it or taking it too.
//
// Checkpoint affinity (asha): a promoted job (rung > 0) continues from the
// checkpoint of the worker that finished its last rung (jobs.worker_id).
// Until affinity_until (--checkpoint-affinity-seconds after the promotion)
// only that worker may take it: if it is busy, it usually finishes a short
// rung-0 job sooner than another worker would retrain the promoted one, and
// the other workers take other jobs meanwhile. After, anyone may, and
// retrains it from scratch with the same seed. Promoted jobs are looked for
// first (kClaimPromotedSql, the holder's own before others'), as ASHA
// promotes before it starts new candidates.
#define MOE4_CLAIM_AFFINITY                                                                  \
  "    AND (j.affinity_until IS NULL OR j.affinity_until <= now() OR j.worker_id = $1) "
#define MOE4_CLAIM_CANDIDATE(extra_where, order)                                             \
  "WITH cand AS ("                                                                           \
  "  SELECT j.id FROM jobs j JOIN campaigns c ON c.id = j.campaign_id "                      \
  "  WHERE j.state = 'pending' AND c.state = 'active' AND j.not_before <= now() "            \
  "    AND (j.device_kind = '' OR j.device_kind = $2) AND j.min_memory_mb <= $3 "            \
  extra_where MOE4_CLAIM_AFFINITY                                                            \
  "  ORDER BY " order " LIMIT 1 "                                                             \
  "  FOR UPDATE OF j SKIP LOCKED), "
#define MOE4_CLAIM_TAIL                                                                      \
    "claimed AS ("                                                                          \
    "  UPDATE jobs j SET state = 'leased', attempt = j.attempt + 1, worker_id = $1, "       \
    "    lease_owner = $4, lease_deadline = now() + make_interval(secs => $5), "            \
    "    attempt_started_at = now(), started_at = coalesce(j.started_at, now()), "          \
    "    progress_epoch = NULL, progress_step = NULL, updated_at = now() "                  \
    "  FROM cand WHERE j.id = cand.id "                                                     \
    "  RETURNING j.id, j.attempt, j.campaign_id, j.families, j.seed, j.lease_deadline, "    \
    "    j.max_job_seconds, j.min_memory_mb, j.target_epochs, j.rung), "                    \
    "att AS ("                                                                              \
    "  INSERT INTO attempts (job_id, attempt, worker_id, lease_owner) "                     \
    "  SELECT id, attempt, $1, $4 FROM claimed) "                                           \
    "SELECT cl.id, cl.attempt, cl.campaign_id, array_to_json(cl.families)::text, "          \
    "  cl.seed::text, c.recipe::text, c.dataset::text, cl.max_job_seconds, "                \
    "  (extract(epoch FROM cl.lease_deadline) * 1000)::bigint, "                            \
    "  (SELECT coalesce(max(e.epoch), 0) FROM epochs e WHERE e.job_id = cl.id), "           \
    "  cl.min_memory_mb, coalesce(cl.target_epochs, 0), cl.rung "                          \
    "FROM claimed cl JOIN campaigns c ON c.id = cl.campaign_id"

constexpr const char* kClaimJobName = "moe4_claim_job";
constexpr const char* kClaimJobSql =
    MOE4_CLAIM_CANDIDATE("", "j.priority DESC, j.id") MOE4_CLAIM_TAIL;

constexpr const char* kClaimPromotedName = "moe4_claim_promoted";
constexpr const char* kClaimPromotedSql =
    MOE4_CLAIM_CANDIDATE("    AND j.rung > 0 ", "coalesce(j.worker_id = $1, false) DESC, j.priority DESC, j.id") MOE4_CLAIM_TAIL;

#undef MOE4_CLAIM_AFFINITY
#undef MOE4_CLAIM_CANDIDATE
#undef MOE4_CLAIM_TAIL

constexpr const char* kHeartbeatWorkerName = "moe4_heartbeat_worker";
constexpr const char* kHeartbeatWorkerSql =
    "UPDATE workers SET last_seen = now() WHERE id = $1 RETURNING id";

constexpr const char* kPauseJobName = "moe4_pause_job";
constexpr const char* kPauseJobSql =
    "UPDATE jobs SET state = 'pending', max_attempts = max_attempts + 1, "
    "  lease_deadline = NULL, not_before = now(), updated_at = now() WHERE id = $1";

constexpr const char* kExtendLeaseName = "moe4_extend_lease";
constexpr const char* kExtendLeaseSql =
    "UPDATE jobs SET lease_deadline = now() + make_interval(secs => $2), "
    "  state = CASE WHEN $3 > 0 THEN 'running' ELSE state END, "
    "  progress_epoch = nullif($3, 0), progress_step = $4, updated_at = now() "
    "WHERE id = $1 RETURNING (extract(epoch FROM lease_deadline) * 1000)::bigint";

// Upsert: a re-sent epoch, or one re-run by a later attempt after a resume
// from an older checkpoint, replaces its row. Macros, not constants, only so
// that the statements below can embed the same text at compile time: the
// columns, the 23 parameters ($1 job, $2 epoch, $3 attempt, then the metrics;
// $19 and $20, the validation loss and accuracy, $21 the K x C per-class
// accuracies (a 2-D array literal), $22 and $23 the specialisation, are
// text, '' for none) and the conflict clause. The parameters carry their types so that they also
// work in a SELECT list, where Postgres would not infer them from the columns.
#define MOE4_EPOCH_INSERT                                                                    \
  "INSERT INTO epochs (job_id, epoch, attempt, train_loss, train_accuracy, test_loss, "      \
  "  test_accuracy, lr, gate_mean, routing_share, expert_accuracy, routing_entropy, "        \
  "  dead_experts, ecology, temperature, epoch_seconds, images_per_second, "                 \
  "  peak_memory_bytes, validation_loss, validation_accuracy, expert_class_accuracy, "      \
  "  specialisation_bits, specialisation_normalised) "
#define MOE4_EPOCH_PARAMS                                                                    \
  "$1::bigint, $2::int, $3::int, $4::float8, $5::float8, $6::float8, $7::float8, "           \
  "  $8::float8, $9::float8[], $10::float8[], $11::float8[], $12::float8, $13::int, "        \
  "  $14::float8, $15::float8, $16::float8, $17::float8, $18::bigint, "                       \
  "  nullif($19::text, '')::float8, nullif($20::text, '')::float8, "                        \
  "  nullif($21::text, '')::float8[], nullif($22::text, '')::float8, "                     \
  "  nullif($23::text, '')::float8"
#define MOE4_EPOCH_ON_CONFLICT                                                               \
  " ON CONFLICT (job_id, epoch) DO UPDATE SET attempt = EXCLUDED.attempt, "                  \
  "  train_loss = EXCLUDED.train_loss, train_accuracy = EXCLUDED.train_accuracy, "           \
  "  test_loss = EXCLUDED.test_loss, test_accuracy = EXCLUDED.test_accuracy, "               \
  "  lr = EXCLUDED.lr, gate_mean = EXCLUDED.gate_mean, "                                     \
  "  routing_share = EXCLUDED.routing_share, "                                               \
  "  expert_accuracy = EXCLUDED.expert_accuracy, "                                           \
  "  routing_entropy = EXCLUDED.routing_entropy, dead_experts = EXCLUDED.dead_experts, "     \
  "  ecology = EXCLUDED.ecology, temperature = EXCLUDED.temperature, "                       \
  "  epoch_seconds = EXCLUDED.epoch_seconds, "                                               \
  "  images_per_second = EXCLUDED.images_per_second, "                                       \
  "  peak_memory_bytes = EXCLUDED.peak_memory_bytes, "                                       \
  "  validation_loss = EXCLUDED.validation_loss, "                                           \
  "  validation_accuracy = EXCLUDED.validation_accuracy, "                                 \
  "  expert_class_accuracy = EXCLUDED.expert_class_accuracy, "                             \
  "  specialisation_bits = EXCLUDED.specialisation_bits, "                                 \
  "  specialisation_normalised = EXCLUDED.specialisation_normalised, recorded_at = now()"
#define MOE4_UPSERT_EPOCH_SQL MOE4_EPOCH_INSERT "VALUES (" MOE4_EPOCH_PARAMS ")" MOE4_EPOCH_ON_CONFLICT

constexpr const char* kUpsertEpochName = "moe4_upsert_epoch";
constexpr const char* kUpsertEpochSql = MOE4_UPSERT_EPOCH_SQL;

// The last (usually the only) epoch of a report, with what follows it in the
// same statement: reporting is a sign of life, so the lease is extended like
// a heartbeat's ($24 seconds, progress to epoch $25) and worker $26 is seen.
// One round trip instead of three. The data-modifying CTEs always run to
// completion; now() is the transaction's start either way, so the rows
// written are those the separate statements wrote. $27: the report's
// skipped-file counts (ReportedSkippedImages), kept on the job; '' leaves
// the job's as they are.
#define MOE4_SET_SKIPPED_IMAGES "skipped_images = coalesce(nullif($27::text, '')::jsonb, jobs.skipped_images), "
constexpr const char* kReportLastEpochName = "moe4_report_last_epoch";
constexpr const char* kReportLastEpochSql =
    "WITH e AS (" MOE4_UPSERT_EPOCH_SQL "), "
    "w AS (UPDATE workers SET last_seen = now() WHERE id = $26) "
    "UPDATE jobs SET state = 'running', lease_deadline = now() + make_interval(secs => $24), "
    "  progress_epoch = greatest(coalesce(progress_epoch, 0), $25), " MOE4_SET_SKIPPED_IMAGES
    "  updated_at = now() "
    "WHERE id = $1";

// The common report, one epoch, in one statement and so one round trip
// (autocommit; BEGIN, the job lock and COMMIT were three more): the job row
// is locked and the write fenced (held by worker $26 at attempt $3, epoch $2
// within the recipe, per-expert lists of K values or none, per-class
// accuracies of K rows or none) in the first CTE;
// then the upsert, the lease extension, the skipped-file counts ($27) and
// the worker touch of kReportLastEpochSql, only for a job that passed. Lock
// order job, then worker, as everywhere. Returns 1 when stored, 0 when
// refused: the caller then takes the transactional path, which says why.
constexpr const char* kReportOneEpochName = "moe4_report_one_epoch";
constexpr const char* kReportOneEpochSql =
    "WITH j AS ("
    "  SELECT j.id FROM jobs j JOIN campaigns c ON c.id = j.campaign_id "
    "  WHERE j.id = $1 AND j.worker_id = $26 AND j.attempt = $3 "
    "    AND j.state IN ('leased', 'running') "
    "    AND $2::int BETWEEN 1 AND coalesce(j.target_epochs, c.epochs) "
    "    AND cardinality($9::float8[]) IN (0, cardinality(j.families)) "
    "    AND cardinality($10::float8[]) IN (0, cardinality(j.families)) "
    "    AND cardinality($11::float8[]) IN (0, cardinality(j.families)) "
    "    AND ($21::text = '' OR array_length($21::float8[], 1) = cardinality(j.families)) "
    "  FOR UPDATE OF j), "
    "e AS (" MOE4_EPOCH_INSERT "SELECT " MOE4_EPOCH_PARAMS " FROM j" MOE4_EPOCH_ON_CONFLICT "), "
    "u AS (UPDATE jobs SET state = 'running', "
    "    lease_deadline = now() + make_interval(secs => $24::float8), "
    "    progress_epoch = greatest(coalesce(progress_epoch, 0), $25::int), " MOE4_SET_SKIPPED_IMAGES
    "    updated_at = now() "
    "  FROM j WHERE jobs.id = j.id RETURNING 1), "
    "w AS (UPDATE workers SET last_seen = now() WHERE id = $26 AND EXISTS (SELECT 1 FROM u)) "
    "SELECT count(*)::int FROM u";

#undef MOE4_SET_SKIPPED_IMAGES
#undef MOE4_UPSERT_EPOCH_SQL
#undef MOE4_EPOCH_INSERT
#undef MOE4_EPOCH_PARAMS
#undef MOE4_EPOCH_ON_CONFLICT

// A report without epochs: the lease extension and worker touch of
// kReportLastEpochSql alone.
constexpr const char* kReportProgressName = "moe4_report_progress";
constexpr const char* kReportProgressSql =
    "WITH w AS (UPDATE workers SET last_seen = now() WHERE id = $4) "
    "UPDATE jobs SET state = 'running', lease_deadline = now() + make_interval(secs => $2), "
    "  progress_epoch = greatest(coalesce(progress_epoch, 0), $3), updated_at = now() "
    "WHERE id = $1";

constexpr const char* kCountEpochsName = "moe4_count_epochs";
constexpr const char* kCountEpochsSql =
    "SELECT count(*) FROM epochs WHERE job_id = $1 AND epoch BETWEEN 1 AND $2";

// Complete's writes in one statement: the job's result, the end of attempt
// $6, the worker ($7) seen, and the job_succeeded event (campaign $8, detail
// $9). Four round trips became one; the rows written are those the separate
// statements wrote (the attempt's reason NULL, as nullif('', '') gave).
// MaybeFinishCampaign stays a statement of its own: it must see this one's
// update of the job.
//
// The selected epoch is chosen here, from the stored epochs (all of them:
// Complete checked), never from what the worker says: with the campaign's
// selection 'best_validation', the epoch with the highest validation
// accuracy, the earliest on ties; with 'final' (or epochs without
// validation figures, from a worker that predates the split), the last one.
// The test accuracy never enters the choice.
//
// $10 is the state the job goes to: 'succeeded', or, for a rung of an asha
// campaign below the top, 'waiting' (for the promotion decision; the
// selected epoch is then the rung's, chosen among its epochs).
constexpr const char* kCompleteJobName = "moe4_complete_job";
constexpr const char* kCompleteJobSql =
    "WITH j AS (UPDATE jobs SET state = $10::text, final_test_accuracy = $2::float8, "
    "    best_test_accuracy = $3::float8, parameter_count = $4, train_seconds = $5::float8, "
    "    (selected_epoch, selected_validation_accuracy, selected_test_accuracy) = ("
    "      SELECT e.epoch, e.validation_accuracy, e.test_accuracy "
    "      FROM epochs e, campaigns c "
    "      WHERE e.job_id = $1 AND c.id = $8::bigint "
    "        AND e.epoch <= coalesce(jobs.target_epochs, c.epochs) "
    "      ORDER BY CASE WHEN c.selection = 'best_validation' "
    "                     AND e.validation_accuracy <> 'NaN'::float8 "
    "                THEN e.validation_accuracy END DESC NULLS LAST, "
    "        CASE WHEN c.selection = 'best_validation' "
    "                  AND e.validation_accuracy <> 'NaN'::float8 "
    "             THEN e.epoch ELSE -e.epoch END "
    "      LIMIT 1), "
    "    error = NULL, lease_deadline = NULL, finished_at = now(), updated_at = now() "
    "  WHERE id = $1), "
    "a AS (UPDATE attempts SET ended_at = now(), outcome = 'succeeded', reason = NULL "
    "  WHERE job_id = $1 AND attempt = $6), "
    "w AS (UPDATE workers SET last_seen = now() WHERE id = $7) "
    "INSERT INTO events (kind, campaign_id, job_id, worker_id, detail) "
    "VALUES (CASE WHEN $10::text = 'waiting' THEN 'rung_completed' ELSE 'job_succeeded' END, "
    "  nullif($8::bigint, 0), nullif($1::bigint, 0), "
    "  nullif($7::bigint, 0), $9)";

constexpr const char* kFailRetryName = "moe4_fail_retry";
constexpr const char* kFailRetrySql =
    "UPDATE jobs SET state = 'pending', error = $2, lease_deadline = NULL, "
    "  not_before = now() + make_interval(secs => $3), updated_at = now() WHERE id = $1";

// The job and the pending jobs of the same combination in its campaign.
constexpr const char* kRaiseMemoryName = "moe4_raise_memory";
constexpr const char* kRaiseMemorySql =
    "UPDATE jobs j SET min_memory_mb = greatest(j.min_memory_mb, $2), updated_at = now() "
    "FROM jobs o WHERE o.id = $1 AND j.campaign_id = o.campaign_id AND j.families = o.families "
    "  AND (j.id = o.id OR j.state = 'pending')";

constexpr const char* kFailFinalName = "moe4_fail_final";
constexpr const char* kFailFinalSql =
    "UPDATE jobs SET state = 'failed', error = $2, lease_deadline = NULL, "
    "  finished_at = now(), updated_at = now() WHERE id = $1";

const std::vector<PreparedStatement>& PreparedStatements() {
  static const auto* const kPrepared = new std::vector<PreparedStatement>{
      {kEventName, kEventSql},
      {kLockCampaignOfJobName, kLockCampaignOfJobSql},
      {kLockJobName, kLockJobSql},
      {kTouchWorkerName, kTouchWorkerSql},
      {kMaybeFinishCampaignName, kMaybeFinishCampaignSql},
      {kEndAttemptName, kEndAttemptSql},
      {kLeaseWorkerName, kLeaseWorkerSql},
      {kClaimJobName, kClaimJobSql},
      {kClaimPromotedName, kClaimPromotedSql},
      {kHeartbeatWorkerName, kHeartbeatWorkerSql},
      {kPauseJobName, kPauseJobSql},
      {kExtendLeaseName, kExtendLeaseSql},
      {kUpsertEpochName, kUpsertEpochSql},
      {kReportLastEpochName, kReportLastEpochSql},
      {kReportOneEpochName, kReportOneEpochSql},
      {kReportProgressName, kReportProgressSql},
      {kCountEpochsName, kCountEpochsSql},
      {kCompleteJobName, kCompleteJobSql},
      {kFailRetryName, kFailRetrySql},
      {kFailFinalName, kFailFinalSql},
      {kRaiseMemoryName, kRaiseMemorySql},
  };
  return *kPrepared;
}

bool IsHeld(absl::string_view state) { return state == "leased" || state == "running"; }

void Event(pqxx::work& txn, absl::string_view kind, int64_t campaign_id, int64_t job_id,
           int64_t worker_id, const std::string& detail) {
  txn.exec_prepared(kEventName, std::string(kind), campaign_id, job_id, worker_id, detail);
}

// The state of a job as seen by a fenced write, read under the row lock.
struct HeldJob {
  int64_t campaign_id = 0;
  std::string state;
  int attempt = 0;
  int64_t worker_id = 0;
  int max_attempts = 0;
  int k = 0;
  int epochs = 0;              // the epoch its current rung ends at (the campaign's epochs for full)
  std::string campaign_state;
  int rung = 0;                // asha: the rung it trains towards
  bool asha = false;           // the campaign's schedule is asha
  int rungs = 1;               // rungs of the campaign's schedule
};

// Locks the job row (and, when lock_campaign, its campaign row first: the lock
// order every job-finishing transaction uses).
absl::StatusOr<HeldJob> LockJob(pqxx::work& txn, int64_t job_id, bool lock_campaign) {
  if (lock_campaign) {
    pqxx::result c = txn.exec_prepared(kLockCampaignOfJobName, job_id);
    if (c.empty()) return absl::NotFoundError(absl::StrCat("job ", job_id, " does not exist"));
  }
  pqxx::result r = txn.exec_prepared(kLockJobName, job_id);
  if (r.empty()) return absl::NotFoundError(absl::StrCat("job ", job_id, " does not exist"));
  HeldJob h;
  h.campaign_id = r[0][0].as<int64_t>();
  h.state = r[0][1].as<std::string>();
  h.attempt = r[0][2].as<int>();
  h.worker_id = r[0][3].as<int64_t>();
  h.max_attempts = r[0][4].as<int>();
  h.k = r[0][5].as<int>();
  h.epochs = r[0][6].as<int>();
  h.campaign_state = r[0][7].as<std::string>();
  h.rung = r[0][8].as<int>();
  h.asha = r[0][9].as<bool>();
  h.rungs = r[0][10].as<int>();
  return h;
}

bool SameHolder(const HeldJob& h, int64_t worker_id, int attempt) {
  return h.worker_id == worker_id && h.attempt == attempt;
}

// The fencing check of every worker write.
absl::Status Fence(const HeldJob& h, int64_t job_id, int64_t worker_id, int attempt) {
  if (SameHolder(h, worker_id, attempt) && IsHeld(h.state)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "stale write: job %d attempt %d by worker %d, but the job is %s at attempt %d held by "
      "worker %d",
      job_id, attempt, worker_id, h.state, h.attempt, h.worker_id));
}

void TouchWorker(pqxx::work& txn, int64_t worker_id) {
  txn.exec_prepared(kTouchWorkerName, worker_id);
}

// Marks the campaign done when nothing is left to run. The caller holds the
// campaign row lock, so concurrent finishers serialise and the last one sees
// every other's committed state.
void MaybeFinishCampaign(pqxx::work& txn, int64_t campaign_id) {
  pqxx::result r = txn.exec_prepared(kMaybeFinishCampaignName, campaign_id);
  if (!r.empty()) {
    Event(txn, "campaign_done", campaign_id, 0, 0, "");
    spdlog::info("campaign {} done", campaign_id);
  }
}

// Refill: job `job_id` of campaign `campaign_id` just failed for good. When
// the campaign refills and no other job of that combination succeeded or may
// still, a replacement combination (ChooseReplacement: the families furthest
// below their share first) gets `replicates` new jobs, and the events say
// so. At most `budget` refills per campaign, so a pool where everything
// fails still ends. The caller holds the campaign row lock (so two failures
// never draw the same replacement) and finishes the campaign afterwards.
void MaybeRefill(pqxx::work& txn, int64_t campaign_id, int64_t job_id) {
  pqxx::result c = txn.exec_params(
      "SELECT refill, state, k, array_to_json(pool)::text, seed::text, replicates, refills, budget, "
      "  max_attempts, priority, max_job_seconds, device_kind, min_memory_mb "
      "FROM campaigns WHERE id = $1",
      campaign_id);
  if (c.empty() || !c[0][0].as<bool>() || c[0][1].as<std::string>() != "active") return;
  const int k = c[0][2].as<int>();
  const std::vector<std::string> pool = JsonTextArray(c[0][3]);
  uint64_t seed = 0;
  if (!absl::SimpleAtoi(c[0][4].as<std::string>(), &seed)) return;
  const int replicates = c[0][5].as<int>();
  const int refills = c[0][6].as<int>();
  const int budget = c[0][7].as<int>();
  pqxx::row failed_job = txn.exec_params1(
      "SELECT combo_rank, array_to_json(families)::text, "
      "  EXISTS (SELECT 1 FROM jobs o WHERE o.campaign_id = j.campaign_id AND o.combo_rank = j.combo_rank "
      "          AND o.state IN ('pending', 'leased', 'running', 'succeeded', 'waiting', 'stopped')), "
      "  EXISTS (SELECT 1 FROM rung_results r WHERE r.job_id = j.id) "
      "FROM jobs j WHERE j.id = $1",
      job_id);
  if (failed_job[2].as<bool>()) return;  // another replicate has or may still give a result
  if (failed_job[3].as<bool>()) return;  // asha: it has a rung result, so the combination was evaluated
  const std::string failed_families = absl::StrJoin(JsonTextArray(failed_job[1]), "+");
  if (refills >= budget) {
    Event(txn, "refill_exhausted", campaign_id, job_id, 0,
          absl::StrFormat("combination %s failed; no replacement: the campaign already drew %d (its budget)",
                          failed_families, refills));
    return;
  }
  std::vector<int> live(pool.size(), 0), succeeded(pool.size(), 0), failed(pool.size(), 0);
  std::set<uint64_t> taken;
  for (const auto& row : txn.exec_params(
           "SELECT combo_rank, array_to_json(families)::text, "
           "  bool_or(state IN ('pending', 'leased', 'running', 'succeeded', 'waiting', 'stopped')), "
           "  bool_and(state = 'failed'), bool_or(state IN ('succeeded', 'waiting', 'stopped')) "
           "FROM jobs WHERE campaign_id = $1 GROUP BY combo_rank, families",
           campaign_id)) {
    taken.insert(row[0].as<uint64_t>());
    const bool is_live = row[2].as<bool>(), is_failed = row[3].as<bool>(), is_succeeded = row[4].as<bool>();
    for (const auto& family : JsonTextArray(row[1])) {
      const auto it = std::lower_bound(pool.begin(), pool.end(), family);
      if (it == pool.end() || *it != family) continue;
      const size_t i = static_cast<size_t>(it - pool.begin());
      live[i] += is_live;
      succeeded[i] += is_succeeded;
      failed[i] += is_failed;
    }
  }
  const std::optional<uint64_t> rank =
      ChooseReplacement(static_cast<int>(pool.size()), k, live, succeeded, failed, taken,
                        seed ^ static_cast<uint64_t>(refills));
  if (!rank) {
    Event(txn, "refill_exhausted", campaign_id, job_id, 0,
          absl::StrFormat("combination %s failed; no untried combination is left to replace it", failed_families));
    return;
  }
  std::vector<std::string> families;
  for (int index : UnrankCombination(*rank, static_cast<int>(pool.size()), k)) families.push_back(pool[index]);
  std::vector<std::string> seeds, replicate_ids;
  for (int r = 0; r < replicates; ++r) {
    seeds.push_back(std::to_string(ReplicateSeed(seed, *rank, r)));
    replicate_ids.push_back(std::to_string(r));
  }
  txn.exec_params(
      "INSERT INTO jobs (campaign_id, ordinal, combo_rank, families, seed, max_attempts, priority, "
      "  device_kind, min_memory_mb, max_job_seconds, replicate, replaces_job_id, target_epochs) "
      "SELECT $1, (SELECT coalesce(max(ordinal), -1) FROM jobs WHERE campaign_id = $1) + p + 1, $2, $3::text[], "
      "  s::numeric, $4, $5, $6, $7, $8, p, $9, "
      "  (SELECT CASE WHEN schedule = 'asha' THEN rung_epochs[1] END FROM campaigns WHERE id = $1) "
      "FROM unnest($10::int[], $11::text[]) AS t(p, s)",
      campaign_id, static_cast<int64_t>(*rank), TextArrayLiteral(families), c[0][8].as<int>(), c[0][9].as<int>(),
      c[0][11].as<std::string>(), c[0][12].as<int64_t>(), c[0][10].as<int64_t>(), job_id,
      "{" + absl::StrJoin(replicate_ids, ",") + "}", "{" + absl::StrJoin(seeds, ",") + "}");
  txn.exec_params("UPDATE campaigns SET refills = refills + 1, updated_at = now() WHERE id = $1", campaign_id);
  Event(txn, "combination_refilled", campaign_id, job_id, 0,
        absl::StrFormat("combination %s failed for good; replaced by %s (rank %d, %d job%s) to keep the evaluated "
                        "families stratified",
                        failed_families, absl::StrJoin(families, "+"), *rank, replicates, replicates == 1 ? "" : "s"));
  spdlog::info("campaign {} job {}: combination {} failed for good; refilled with {}", campaign_id, job_id,
               failed_families, absl::StrJoin(families, "+"));
}

// asha: the rung result of job `job_id`, which just completed its rung at
// `attempt` (kCompleteJobSql selected the rung's epoch): the metric
// promotions rank by (NULL for a NaN validation accuracy, which ranks last),
// the selected epoch and the test accuracies. A duplicate is a no-op.
void RecordRungResult(pqxx::work& txn, int64_t job_id, int attempt) {
  txn.exec_params(
      "INSERT INTO rung_results (job_id, campaign_id, rung, epochs, attempt, metric, selected_epoch, "
      "  selected_test_accuracy, test_accuracy) "
      "SELECT j.id, j.campaign_id, j.rung, coalesce(j.target_epochs, c.epochs), $2, "
      "  nullif(j.selected_validation_accuracy, 'NaN'::float8), coalesce(j.selected_epoch, 0), "
      "  j.selected_test_accuracy, "
      "  (SELECT e.test_accuracy FROM epochs e WHERE e.job_id = j.id "
      "     AND e.epoch = coalesce(j.target_epochs, c.epochs)) "
      "FROM jobs j JOIN campaigns c ON c.id = j.campaign_id WHERE j.id = $1 "
      "ON CONFLICT (job_id, rung) DO NOTHING",
      job_id, attempt);
}

// asha: promotes and stops what the campaign's rungs call for now
// (DecideAsha, coordinator/scheduler/asha.h). The caller holds the campaign
// row lock, which every transaction that ends a job, cancels or decides
// takes first: two coordinators never decide for one campaign at once, and
// each sees the other's committed results (READ COMMITTED reads afresh per
// statement). A promoted job goes back to pending at the next rung with a
// fresh retry budget, kept for its checkpoint holder for `affinity_seconds`.
void AdvanceRungs(pqxx::work& txn, int64_t campaign_id, double affinity_seconds) {
  pqxx::result c = txn.exec_params(
      "SELECT schedule = 'asha', reduction_factor, cardinality(rung_epochs), state FROM campaigns WHERE id = $1",
      campaign_id);
  if (c.empty() || !c[0][0].as<bool>()) return;
  const std::string state = c[0][3].as<std::string>();
  if (state == "cancelled" || state == "done") return;
  const int eta = c[0][1].as<int>();
  const int num_rungs = c[0][2].as<int>();
  std::vector<RungSnapshot> rungs(static_cast<size_t>(std::max(1, num_rungs)));
  auto at = [&](int rung) -> RungSnapshot* {
    return rung >= 0 && rung < static_cast<int>(rungs.size()) ? &rungs[static_cast<size_t>(rung)] : nullptr;
  };
  for (const auto& row : txn.exec_params(
           "SELECT rung, count(*) FILTER (WHERE state IN ('pending', 'leased', 'running')), "
           "  count(*) FILTER (WHERE state = 'waiting') "
           "FROM jobs WHERE campaign_id = $1 GROUP BY rung",
           campaign_id)) {
    if (RungSnapshot* r = at(row[0].as<int>())) {
      r->training = row[1].as<int>();
      r->waiting = row[2].as<int>();
    }
  }
  for (const auto& row : txn.exec_params(
           "SELECT r.rung, r.job_id, coalesce(r.metric, 'NaN'::float8), r.promoted_at IS NOT NULL, "
           "  j.state = 'waiting' AND j.rung = r.rung "
           "FROM rung_results r JOIN jobs j ON j.id = r.job_id WHERE r.campaign_id = $1",
           campaign_id)) {
    if (RungSnapshot* r = at(row[0].as<int>())) {
      r->finished.push_back({row[1].as<int64_t>(), row[2].as<double>(), row[3].as<bool>(), row[4].as<bool>()});
    }
  }
  const AshaDecisions decisions = DecideAsha(std::move(rungs), eta);
  if (!decisions.promotions.empty()) {
    std::vector<int64_t> ids;
    for (const Promotion& p : decisions.promotions) ids.push_back(p.job_id);
    pqxx::result promoted = txn.exec_params(
        "WITH p AS (UPDATE jobs j SET state = 'pending', rung = j.rung + 1, "
        "    target_epochs = c.rung_epochs[j.rung + 2], max_attempts = j.attempt + c.max_attempts, "
        "    not_before = now(), affinity_until = now() + make_interval(secs => $3::float8), "
        "    lease_deadline = NULL, finished_at = NULL, updated_at = now() "
        "  FROM campaigns c WHERE c.id = j.campaign_id AND j.campaign_id = $2 "
        "    AND j.id = ANY($1::bigint[]) AND j.state = 'waiting' "
        "  RETURNING j.id, j.rung, j.target_epochs, j.worker_id), "
        "r AS (UPDATE rung_results rr SET promoted_at = now() FROM p "
        "  WHERE rr.job_id = p.id AND rr.rung = p.rung - 1 AND rr.promoted_at IS NULL), "
        "ev AS (INSERT INTO events (kind, campaign_id, job_id, worker_id, detail) "
        "  SELECT 'job_promoted', $2, p.id, p.worker_id, "
        "    format('rung %s -> %s (through epoch %s)', p.rung - 1, p.rung, p.target_epochs) FROM p) "
        "SELECT p.id, p.rung FROM p ORDER BY p.id",
        "{" + absl::StrJoin(ids, ",") + "}", campaign_id, affinity_seconds);
    for (const auto& row : promoted) {
      spdlog::info("campaign {} job {}: promoted to rung {}", campaign_id, row[0].as<int64_t>(), row[1].as<int>());
    }
  }
  if (!decisions.stops.empty()) {
    std::vector<int64_t> ids;
    for (const Stop& st : decisions.stops) ids.push_back(st.job_id);
    pqxx::result stopped = txn.exec_params(
        "WITH s AS (UPDATE jobs SET state = 'stopped', finished_at = now(), updated_at = now() "
        "  WHERE campaign_id = $2 AND id = ANY($1::bigint[]) AND state = 'waiting' RETURNING id, rung, worker_id), "
        "ev AS (INSERT INTO events (kind, campaign_id, job_id, worker_id, detail) "
        "  SELECT 'job_stopped', $2, s.id, s.worker_id, format('stopped at rung %s', s.rung) FROM s) "
        "SELECT count(*) FROM s",
        "{" + absl::StrJoin(ids, ",") + "}", campaign_id);
    spdlog::info("campaign {}: {} job(s) stopped at their rung", campaign_id, stopped[0][0].as<int>());
  }
}

void EndAttempt(pqxx::work& txn, int64_t job_id, int attempt, absl::string_view outcome,
                const std::string& reason) {
  txn.exec_prepared(kEndAttemptName, job_id, attempt, std::string(outcome), reason);
}

// m.expert_class_accuracy as a K x C float8[][] literal; '' when absent.
// The caller has checked its shape (ClassAccuracyShapeError).
std::string ClassAccuracyLiteral(const moe4::v1::EpochMetrics& m) {
  const int c = m.num_classes();
  if (m.expert_class_accuracy().empty() || c <= 0) return "";
  std::string out = "{";
  for (int i = 0; i < m.expert_class_accuracy_size(); ++i) {
    out += i % c == 0 ? (i == 0 ? "{" : "},{") : ",";
    out += Float8Text(m.expert_class_accuracy(i));
  }
  out += "}}";
  return out;
}

// Why m's per-class accuracies cannot be K x num_classes; "" when they can
// (or are absent).
std::string ClassAccuracyShapeError(const moe4::v1::EpochMetrics& m, int k) {
  const int n = m.expert_class_accuracy_size();
  if (n == 0) return "";
  if (m.num_classes() <= 0) return absl::StrFormat("%d per-class accuracies without num_classes", n);
  if (k > 0 && n != k * m.num_classes()) {
    return absl::StrFormat("per-class accuracies must have %d x %d values (families x num_classes), got %d", k,
                           m.num_classes(), n);
  }
  if (k <= 0 && n % m.num_classes() != 0) {
    return absl::StrFormat("%d per-class accuracies are not a multiple of num_classes %d", n, m.num_classes());
  }
  return "";
}

// Runs the epoch statement `name` with epoch m of `req` as $1..$23 (the
// columns of MOE4_EPOCH_PARAMS) and `more` as $24 on.
template <typename... More>
pqxx::result ExecEpochStatement(pqxx::transaction_base& txn, const char* name,
                                const moe4::v1::ReportEpochsRequest& req, const moe4::v1::EpochMetrics& m,
                                More... more) {
  return txn.exec_prepared(
      name, req.job_id(), m.epoch(), req.attempt(), Float8Text(m.train_loss()), Float8Text(m.train_accuracy()),
      Float8Text(m.test_loss()), Float8Text(m.test_accuracy()), Float8Text(m.lr()),
      Float8ArrayLiteral(m.gate_mean()), Float8ArrayLiteral(m.routing_share()),
      Float8ArrayLiteral(m.expert_accuracy()), Float8Text(m.routing_entropy()), m.dead_experts(),
      Float8Text(m.ecology()), Float8Text(m.temperature()), Float8Text(m.epoch_seconds()),
      Float8Text(m.images_per_second()), static_cast<int64_t>(m.peak_memory_bytes()),
      m.has_validation_loss() ? Float8Text(m.validation_loss()) : std::string(),
      m.has_validation_accuracy() ? Float8Text(m.validation_accuracy()) : std::string(), ClassAccuracyLiteral(m),
      m.has_specialisation_bits() ? Float8Text(m.specialisation_bits()) : std::string(),
      m.has_specialisation_normalised() ? Float8Text(m.specialisation_normalised()) : std::string(), more...);
}

// The skipped-file counts a report leaves on its job ($27 of the report
// statements): those of its last epoch that carries any, as every epoch of
// an attempt carries the same; "" when none does, which keeps the job's. So
// the job shows the latest counts that were reported, and an attempt on a
// worker whose copy of the dataset is intact does not erase what an earlier
// attempt, whose epochs may still be the job's, skipped.
std::string ReportedSkippedImages(const moe4::v1::ReportEpochsRequest& req) {
  for (int i = req.epochs_size() - 1; i >= 0; --i) {
    if (!req.epochs(i).skipped_images().empty()) return CountsJson(req.epochs(i).skipped_images());
  }
  return "";
}

}  // namespace

PgJobStore::PgJobStore(PgPool& pool, PgJobStoreOptions options)
    : pool_(pool), options_(std::move(options)) {
  // Cannot fail: the names are unique within the table, and a second store
  // on the same pool registers the same SQL under them.
  absl::Status s = pool_.AddPreparedStatements(PreparedStatements());
  if (!s.ok()) spdlog::error("preparing statements: {}", s.ToString());
}

absl::Status PgJobStore::Ping() {
  return pool_.Run("ping", [&](pqxx::connection& conn) {
    pqxx::nontransaction txn(conn);
    txn.exec("SELECT 1");
    return absl::OkStatus();
  });
}

// ---- campaigns ---------------------------------------------------------------

absl::StatusOr<int64_t> PgJobStore::CreateCampaign(const CampaignPlan& plan) {
  const CampaignSpec& spec = plan.spec;
  moe4::v1::Recipe recipe = spec.recipe;
  recipe.set_seed(0);  // per-job seeds live on the jobs
  const bool asha = spec.schedule.kind == ScheduleKind::kAsha;
  ScheduleSpec schedule = spec.schedule;
  if (!asha) schedule.max_epochs = spec.recipe.epochs();
  const std::vector<int> rung_epochs = RungEpochs(schedule);
  // asha: every job starts at rung 0, which ends at min_epochs; full: NULL
  // (the campaign's epochs).
  const int64_t first_target = asha ? rung_epochs.front() : 0;
  int64_t campaign_id = 0;
  absl::Status s = pool_.Run("creating a campaign", [&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    campaign_id =
        txn.exec_params1(
               "INSERT INTO campaigns (name, k, sampler, budget, seed, pool, max_attempts, "
               "  priority, max_job_seconds, dataset_name, epochs, recipe, dataset, device_kind, "
               "  min_memory_mb, spec_yaml, catalogue, selection, validation_fraction, replicates, refill, "
               "  schedule, min_epochs, max_epochs, reduction_factor, rung_epochs) "
               "VALUES ($1, $2, $3, $4, $5::numeric, $6::text[], $7, $8, $9, $10, $11, "
               "  $12::jsonb, $13::jsonb, $14, $15, $16, $17, $18, $19::float8, $20, $21, "
               "  $22, $23, $24, $25, $26::int[]) RETURNING id",
               spec.name, spec.k, std::string(SamplerName(spec.sampler)),
               static_cast<int64_t>(plan.jobs.size()), std::to_string(spec.seed),
               TextArrayLiteral(spec.pool), spec.max_attempts, spec.priority,
               spec.max_job_seconds, spec.dataset.name(), spec.recipe.epochs(), MessageJson(recipe),
               MessageJson(spec.dataset), spec.requirements.device_kind(),
               static_cast<int64_t>(spec.requirements.min_memory_mb()), plan.spec_yaml,
               std::string(CatalogueName(spec.catalogue)), std::string(SelectionName(spec.selection)),
               Float8Text(spec.dataset.validation_fraction()), spec.replicates, spec.refill,
               std::string(ScheduleKindName(spec.schedule.kind)), asha ? spec.schedule.min_epochs : 0,
               asha ? spec.schedule.max_epochs : 0, asha ? spec.schedule.reduction_factor : 0,
               "{" + absl::StrJoin(rung_epochs, ",") + "}")[0]
            .as<int64_t>();
    for (size_t begin = 0; begin < plan.jobs.size(); begin += kJobInsertChunk) {
      const size_t end = std::min(plan.jobs.size(), begin + kJobInsertChunk);
      std::vector<std::string> ordinals, ranks, families, seeds, replicates;
      for (size_t i = begin; i < end; ++i) {
        ordinals.push_back(std::to_string(i));
        ranks.push_back(std::to_string(plan.jobs[i].rank));
        // Family ids are catalogue ids ([A-Za-z0-9_-]), so a comma joins them safely.
        families.push_back(absl::StrJoin(plan.jobs[i].families, ","));
        seeds.push_back(std::to_string(plan.jobs[i].seed));
        replicates.push_back(std::to_string(plan.jobs[i].replicate));
      }
      txn.exec_params(
          "INSERT INTO jobs (campaign_id, ordinal, combo_rank, families, seed, max_attempts, "
          "  priority, device_kind, min_memory_mb, max_job_seconds, replicate, target_epochs) "
          "SELECT $1, o, r, string_to_array(f, ','), s::numeric, $2, $3, $4, $5, $6, p, nullif($12::int, 0) "
          "FROM unnest($7::int[], $8::bigint[], $9::text[], $10::text[], $11::int[]) AS t(o, r, f, s, p)",
          campaign_id, spec.max_attempts, spec.priority, spec.requirements.device_kind(),
          static_cast<int64_t>(spec.requirements.min_memory_mb()), spec.max_job_seconds,
          "{" + absl::StrJoin(ordinals, ",") + "}", "{" + absl::StrJoin(ranks, ",") + "}",
          TextArrayLiteral(families), "{" + absl::StrJoin(seeds, ",") + "}",
          "{" + absl::StrJoin(replicates, ",") + "}", first_target);
    }
    Event(txn, "campaign_submitted", campaign_id, 0, 0,
          absl::StrFormat("name=%s sampler=%s k=%d jobs=%d replicates=%d selection=%s schedule=%s rungs=%s",
                          spec.name, SamplerName(spec.sampler), spec.k, plan.jobs.size(), spec.replicates,
                          SelectionName(spec.selection), ScheduleKindName(spec.schedule.kind),
                          absl::StrJoin(rung_epochs, ",")));
    txn.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  // Fresh statistics for the rows just inserted: without them the planner
  // may take a new campaign's jobs for an empty table and pick a bad plan for
  // the lease query until autovacuum gets to it. After the commit (ANALYZE
  // sees only committed rows) and best effort: the campaign exists either
  // way, so a failure here is logged, not returned. The lock timeout bounds
  // the wait behind another ANALYZE or a (wraparound) vacuum of jobs, which
  // take the same lock; the statistics then come from them or autovacuum.
  absl::Status analyzed = pool_.Run("analyzing jobs", [&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    txn.exec("SET LOCAL lock_timeout = '2s'");
    txn.exec("ANALYZE jobs");
    txn.commit();
    return absl::OkStatus();
  });
  if (!analyzed.ok()) {
    spdlog::warn("campaign {} created; {} (the planner catches up later)", campaign_id,
                 analyzed.ToString());
  }
  return campaign_id;
}

absl::StatusOr<int> PgJobStore::CancelCampaign(int64_t campaign_id) {
  int cancelled = 0;
  absl::Status s = pool_.Run("cancelling a campaign", [&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    pqxx::result c =
        txn.exec_params("SELECT state FROM campaigns WHERE id = $1 FOR UPDATE", campaign_id);
    if (c.empty()) return NoCampaign(campaign_id);
    const std::string state = c[0][0].as<std::string>();
    if (state == "cancelled") {
      cancelled = 0;
      return absl::OkStatus();
    }
    if (state == "done") {
      return absl::FailedPreconditionError(
          absl::StrCat("campaign ", campaign_id, " is already done"));
    }
    // Held jobs keep worker_id and attempt: the holder's next heartbeat
    // matches them and is told to stop.
    pqxx::result jobs = txn.exec_params(
        "WITH j AS (UPDATE jobs SET state = 'cancelled', error = 'campaign cancelled', "
        "  lease_deadline = NULL, finished_at = now(), updated_at = now() "
        "  WHERE campaign_id = $1 AND state IN ('pending', 'leased', 'running', 'waiting') "
        "  RETURNING id, attempt), "
        "a AS (UPDATE attempts a SET ended_at = now(), outcome = 'cancelled' FROM j "
        "  WHERE a.job_id = j.id AND a.attempt = j.attempt AND a.ended_at IS NULL) "
        "SELECT count(*) FROM j",
        campaign_id);
    cancelled = jobs[0][0].as<int>();
    txn.exec_params(
        "UPDATE campaigns SET state = 'cancelled', finished_at = now(), updated_at = now() "
        "WHERE id = $1",
        campaign_id);
    Event(txn, "campaign_cancelled", campaign_id, 0, 0, absl::StrCat("jobs=", cancelled));
    txn.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  spdlog::info("campaign {} cancelled ({} jobs)", campaign_id, cancelled);
  return cancelled;
}

absl::Status PgJobStore::PauseCampaign(int64_t campaign_id) {
  return pool_.Run("pausing a campaign", [&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    pqxx::result c =
        txn.exec_params("SELECT state FROM campaigns WHERE id = $1 FOR UPDATE", campaign_id);
    if (c.empty()) return NoCampaign(campaign_id);
    const std::string state = c[0][0].as<std::string>();
    if (state == "paused") return absl::OkStatus();
    if (state != "active") {
      return absl::FailedPreconditionError(
          absl::StrCat("campaign ", campaign_id, " is ", state, "; only an active one can pause"));
    }
    txn.exec_params("UPDATE campaigns SET state = 'paused', updated_at = now() WHERE id = $1",
                    campaign_id);
    Event(txn, "campaign_paused", campaign_id, 0, 0, "");
    txn.commit();
    spdlog::info("campaign {} paused", campaign_id);
    return absl::OkStatus();
  });
}

absl::Status PgJobStore::ResumeCampaign(int64_t campaign_id) {
  return pool_.Run("resuming a campaign", [&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    pqxx::result c =
        txn.exec_params("SELECT state FROM campaigns WHERE id = $1 FOR UPDATE", campaign_id);
    if (c.empty()) return NoCampaign(campaign_id);
    const std::string state = c[0][0].as<std::string>();
    if (state == "active") return absl::OkStatus();
    if (state != "paused") {
      return absl::FailedPreconditionError(
          absl::StrCat("campaign ", campaign_id, " is ", state, "; only a paused one can resume"));
    }
    txn.exec_params("UPDATE campaigns SET state = 'active', updated_at = now() WHERE id = $1",
                    campaign_id);
    Event(txn, "campaign_resumed", campaign_id, 0, 0, "");
    // Every job may have finished while paused.
    MaybeFinishCampaign(txn, campaign_id);
    txn.commit();
    spdlog::info("campaign {} resumed", campaign_id);
    return absl::OkStatus();
  });
}

// ---- workers -----------------------------------------------------------------

absl::StatusOr<int64_t> PgJobStore::RegisterWorker(const moe4::v1::RegisterRequest& req) {
  int64_t id = 0;
  absl::Status s = pool_.Run("registering a worker", [&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    id = txn.exec_params1(
                "INSERT INTO workers (name, device_kind, device_name, device_memory_mb, threads, "
                "  version) VALUES ($1, $2, $3, $4, $5, $6) "
                "ON CONFLICT (name) DO UPDATE SET device_kind = EXCLUDED.device_kind, "
                "  device_name = EXCLUDED.device_name, "
                "  device_memory_mb = EXCLUDED.device_memory_mb, threads = EXCLUDED.threads, "
                "  version = EXCLUDED.version, last_seen = now() "
                "RETURNING id",
                req.name(), req.device_kind(), req.device_name(),
                static_cast<int64_t>(req.device_memory_mb()), req.threads(), req.version())[0]
             .as<int64_t>();
    Event(txn, "worker_registered", 0, 0, id,
          absl::StrFormat("name=%s device=%s %s", req.name(), req.device_kind(),
                          req.device_name()));
    txn.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return id;
}

absl::StatusOr<std::optional<moe4::v1::JobAssignment>> PgJobStore::LeaseJob(const moe4::v1::LeaseRequest& req,
                                                                            absl::Duration lease) {
  const int64_t worker_id = req.worker_id();
  std::optional<moe4::v1::JobAssignment> out;
  absl::Status s = pool_.Run("leasing a job", [&](pqxx::connection& conn) {
    out.reset();
    pqxx::work txn(conn);
    pqxx::result w = txn.exec_prepared(kLeaseWorkerName, worker_id);
    if (w.empty()) {
      return absl::NotFoundError(
          absl::StrCat("worker ", worker_id, " is not registered; call Register first"));
    }
    const std::string device_kind = w[0][0].as<std::string>();
    // Jobs fit in what the worker can give one more job now (other jobs may
    // run on its device), never in more than the device has.
    int64_t memory_mb = w[0][1].as<int64_t>();
    if (req.free_memory_mb() > 0) memory_mb = memory_mb > 0 ? std::min(memory_mb, req.free_memory_mb()) : req.free_memory_mb();
    // The claim: one statement; promoted asha jobs first (kClaimPromotedSql),
    // the holder of their checkpoint first among them.
    pqxx::result r = txn.exec_prepared(kClaimPromotedName, worker_id, device_kind, memory_mb,
                                       options_.instance_id, Seconds(lease));
    if (r.empty()) {
      r = txn.exec_prepared(kClaimJobName, worker_id, device_kind, memory_mb, options_.instance_id,
                            Seconds(lease));
    }
    if (r.empty()) {
      txn.commit();  // keeps last_seen
      return absl::OkStatus();
    }
    const pqxx::row row = r[0];
    moe4::v1::JobAssignment a;
    a.set_job_id(row[0].as<int64_t>());
    a.set_attempt(row[1].as<int>());
    a.set_campaign_id(row[2].as<int64_t>());
    for (auto& f : JsonTextArray(row[3])) a.add_families(std::move(f));
    uint64_t seed = 0;
    if (!absl::SimpleAtoi(row[4].as<std::string>(), &seed)) {
      return absl::InternalError(absl::StrCat("job ", a.job_id(), " has a bad seed"));
    }
    absl::Status ps = ParseMessageJson(row[5].as<std::string>(), a.mutable_recipe());
    if (!ps.ok()) return ps;
    a.mutable_recipe()->set_seed(seed);
    ps = ParseMessageJson(row[6].as<std::string>(), a.mutable_dataset());
    if (!ps.ok()) return ps;
    a.set_max_job_seconds(row[7].as<int64_t>());
    a.set_lease_seconds(static_cast<int64_t>(std::ceil(Seconds(lease))));
    a.set_resume_from_epoch(row[9].as<int>());
    a.set_min_memory_mb(row[10].as<int64_t>());
    a.set_stop_after_epoch(row[11].as<int>());
    a.set_rung(row[12].as<int>());
    Event(txn, "job_leased", a.campaign_id(), a.job_id(), worker_id,
          absl::StrCat("attempt=", a.attempt(), " resume_from_epoch=", a.resume_from_epoch(),
                       a.stop_after_epoch() > 0
                           ? absl::StrCat(" rung=", a.rung(), " stop_after_epoch=", a.stop_after_epoch())
                           : std::string()));
    txn.commit();
    out = std::move(a);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (out) {
    spdlog::info("campaign {} job {} attempt {} leased to worker {}", out->campaign_id(),
                 out->job_id(), out->attempt(), worker_id);
  }
  return out;
}

absl::StatusOr<HeartbeatResult> PgJobStore::Heartbeat(const moe4::v1::HeartbeatRequest& req,
                                                      absl::Duration lease) {
  HeartbeatResult out;
  absl::Status s = pool_.Run("recording a heartbeat", [&](pqxx::connection& conn) {
    out = HeartbeatResult{};
    pqxx::work txn(conn);
    // Lock order: the job row before the worker row, as ReportEpochs and
    // Complete take them. A worker's heartbeat and its report of the same
    // job run concurrently; opposite orders would deadlock (Postgres aborts
    // one, the pool retries it, but the round trips are lost).
    std::optional<HeldJob> held;
    if (req.job_id() != 0) {
      absl::StatusOr<HeldJob> locked = LockJob(txn, req.job_id(), /*lock_campaign=*/false);
      if (!locked.ok()) return locked.status();
      held = *std::move(locked);
    }
    pqxx::result w = txn.exec_prepared(kHeartbeatWorkerName, req.worker_id());
    if (w.empty()) {
      return absl::NotFoundError(absl::StrCat("worker ", req.worker_id(), " is not registered"));
    }
    if (!held) {
      txn.commit();
      return absl::OkStatus();
    }
    const HeldJob& h = *held;
    if (SameHolder(h, req.worker_id(), req.attempt()) &&
        (h.state == "cancelled" || h.state == "failed" || h.state == "succeeded" || h.state == "waiting" ||
         h.state == "stopped")) {
      // The coordinator ended this attempt (cancel, time budget): stop.
      out.cancel = true;
      // 'failed' while its holder still runs it: the reaper did that, for
      // max_job_seconds (or a last lease that expired); it never runs again.
      // 'waiting' (an asha rung completed): its checkpoint may be continued.
      out.stop_reason = h.state == "failed"    ? moe4::v1::STOP_REASON_TIMED_OUT
                        : h.state == "waiting" ? moe4::v1::STOP_REASON_PAUSED
                                               : moe4::v1::STOP_REASON_CANCELLED;
      txn.commit();
      return absl::OkStatus();
    }
    absl::Status fenced = Fence(h, req.job_id(), req.worker_id(), req.attempt());
    if (!fenced.ok()) return fenced;
    if (h.campaign_state == "paused" || h.campaign_state == "cancelled") {
      // Back to the queue without charging an attempt: the pause is not the
      // job's fault. The bumped max_attempts keeps the attempt number (the
      // fencing token) increasing while leaving the retry budget intact.
      txn.exec_prepared(kPauseJobName, req.job_id());
      EndAttempt(txn, req.job_id(), req.attempt(), "paused", "campaign paused");
      Event(txn, "job_paused", h.campaign_id, req.job_id(), req.worker_id(),
            absl::StrCat("attempt=", req.attempt()));
      out.cancel = true;
      out.stop_reason = h.campaign_state == "paused" ? moe4::v1::STOP_REASON_PAUSED : moe4::v1::STOP_REASON_CANCELLED;
      txn.commit();
      return absl::OkStatus();
    }
    pqxx::row r = txn.exec_prepared1(
        kExtendLeaseName, req.job_id(), Seconds(lease), req.epoch(), static_cast<int64_t>(req.step()));
    out.lease_deadline_unix_ms = r[0].as<int64_t>();
    txn.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<int> PgJobStore::ReportEpochs(const moe4::v1::ReportEpochsRequest& req,
                                             absl::Duration lease) {
  // A per-class table that is no table goes to the transaction below, which
  // says why (the fast path's SQL can only check its rows).
  if (req.epochs_size() == 1 && ClassAccuracyShapeError(req.epochs(0), 0).empty()) {
    // The common report: one statement (kReportOneEpochSql). Refused (0):
    // fall through to the transaction below, which says why.
    const moe4::v1::EpochMetrics& m = req.epochs(0);
    int stored_fast = 0;
    absl::Status fast = pool_.Run("storing an epoch", [&](pqxx::connection& conn) {
      pqxx::nontransaction txn(conn);
      const pqxx::result r =
          ExecEpochStatement(txn, kReportOneEpochName, req, m, Seconds(lease), m.epoch(), req.worker_id(),
                             ReportedSkippedImages(req));
      stored_fast = r[0][0].as<int>();
      return absl::OkStatus();
    });
    if (!fast.ok()) return fast;
    if (stored_fast == 1) return 1;
  }
  int stored = 0;
  absl::Status s = pool_.Run("storing epochs", [&](pqxx::connection& conn) {
    stored = 0;
    pqxx::work txn(conn);
    absl::StatusOr<HeldJob> held = LockJob(txn, req.job_id(), /*lock_campaign=*/false);
    if (!held.ok()) return held.status();
    const HeldJob& h = *held;
    absl::Status fenced = Fence(h, req.job_id(), req.worker_id(), req.attempt());
    if (!fenced.ok()) return fenced;
    // Known before the loop: the last epoch's statement carries it.
    int max_epoch = 0;
    for (const moe4::v1::EpochMetrics& m : req.epochs()) max_epoch = std::max(max_epoch, m.epoch());
    for (int i = 0; i < req.epochs_size(); ++i) {
      const moe4::v1::EpochMetrics& m = req.epochs(i);
      if (m.epoch() > h.epochs) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "epochs[%d].epoch: %d is beyond the recipe's %d epochs", i, m.epoch(), h.epochs));
      }
      for (const auto* list : {&m.gate_mean(), &m.routing_share(), &m.expert_accuracy()}) {
        if (!list->empty() && list->size() != h.k) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "epochs[%d]: per-expert lists must have %d values (one per family), got %d", i,
              h.k, list->size()));
        }
      }
      if (const std::string shape = ClassAccuracyShapeError(m, h.k); !shape.empty()) {
        return absl::InvalidArgumentError(absl::StrFormat("epochs[%d]: %s", i, shape));
      }
      // Upsert (kUpsertEpochSql): a re-sent epoch replaces its row. The last
      // one also extends the lease and touches the worker (kReportLastEpochSql).
      if (i + 1 < req.epochs_size()) {
        ExecEpochStatement(txn, kUpsertEpochName, req, m);
      } else {
        ExecEpochStatement(txn, kReportLastEpochName, req, m, Seconds(lease), max_epoch, req.worker_id(),
                           ReportedSkippedImages(req));
      }
      ++stored;
    }
    if (req.epochs_size() == 0) {
      // Nothing stored, but still a sign of life (kReportProgressSql).
      txn.exec_prepared(kReportProgressName, req.job_id(), Seconds(lease), max_epoch,
                        req.worker_id());
    }
    txn.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return stored;
}

absl::Status PgJobStore::Complete(const moe4::v1::CompleteRequest& req) {
  int64_t campaign_id = 0;
  bool duplicate = false;
  absl::Status s = pool_.Run("completing a job", [&](pqxx::connection& conn) {
    duplicate = false;
    pqxx::work txn(conn);
    absl::StatusOr<HeldJob> held = LockJob(txn, req.job_id(), /*lock_campaign=*/true);
    if (!held.ok()) return held.status();
    const HeldJob& h = *held;
    campaign_id = h.campaign_id;
    if (SameHolder(h, req.worker_id(), req.attempt()) && !IsHeld(h.state) &&
        txn.exec_params("SELECT 1 FROM attempts WHERE job_id = $1 AND attempt = $2 AND outcome = 'succeeded'",
                        req.job_id(), req.attempt())
                .size() == 1) {
      // The reply to an earlier Complete was lost; it took effect (the job
      // may since have been promoted to its next rung, or stopped).
      duplicate = true;
      return absl::OkStatus();
    }
    absl::Status fenced = Fence(h, req.job_id(), req.worker_id(), req.attempt());
    if (!fenced.ok()) return fenced;
    // A job is only a result with its whole curve: never mark it succeeded
    // while an epoch row is missing (a worker that skipped or lost a report).
    // The attempt then runs out its lease and the job is requeued.
    const int stored =
        txn.exec_prepared(kCountEpochsName, req.job_id(), h.epochs)[0][0].as<int>();
    if (stored != h.epochs) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "job %d attempt %d cannot complete: %d of its %d epochs are stored (every epoch "
          "must be reported first)",
          req.job_id(), req.attempt(), stored, h.epochs));
    }
    // An asha rung below the top waits for its promotion decision.
    const bool rung_below_top = h.asha && h.rung + 1 < h.rungs;
    // The result, the end of the attempt, the worker seen and the event, in
    // one statement (kCompleteJobSql).
    txn.exec_prepared(
        kCompleteJobName, req.job_id(), Float8Text(req.final_test_accuracy()),
        Float8Text(req.best_test_accuracy()), static_cast<int64_t>(req.parameter_count()),
        Float8Text(req.train_seconds()), req.attempt(), req.worker_id(), h.campaign_id,
        absl::StrFormat("attempt=%d final=%.4f best=%.4f%s", req.attempt(), req.final_test_accuracy(),
                        req.best_test_accuracy(),
                        h.asha ? absl::StrFormat(" rung=%d epochs=%d", h.rung, h.epochs) : ""),
        std::string(rung_below_top ? "waiting" : "succeeded"));
    if (h.asha) {
      RecordRungResult(txn, req.job_id(), req.attempt());
      AdvanceRungs(txn, h.campaign_id, Seconds(options_.checkpoint_affinity));
    }
    MaybeFinishCampaign(txn, h.campaign_id);
    txn.commit();
    return absl::OkStatus();
  });
  if (s.ok() && !duplicate) {
    spdlog::info("campaign {} job {} attempt {} succeeded: final {:.4f} best {:.4f}", campaign_id,
                 req.job_id(), req.attempt(), req.final_test_accuracy(),
                 req.best_test_accuracy());
  }
  return s;
}

absl::StatusOr<FailResult> PgJobStore::Fail(const moe4::v1::FailRequest& req) {
  FailResult out;
  int64_t campaign_id = 0;
  // Backoff doubles per attempt: base, 2*base, 4*base, ... capped.
  const double backoff =
      std::min(Seconds(options_.backoff_max),
               Seconds(options_.backoff_base) * std::pow(2.0, std::max(0, req.attempt() - 1)));
  absl::Status s = pool_.Run("failing a job", [&](pqxx::connection& conn) {
    out = FailResult{};
    pqxx::work txn(conn);
    absl::StatusOr<HeldJob> held = LockJob(txn, req.job_id(), /*lock_campaign=*/true);
    if (!held.ok()) return held.status();
    const HeldJob& h = *held;
    campaign_id = h.campaign_id;
    if (SameHolder(h, req.worker_id(), req.attempt()) &&
        (h.state == "pending" || h.state == "failed")) {
      // Already ended (a retried Fail, or the reaper got there first): no effect.
      out.will_retry = h.state == "pending";
      return absl::OkStatus();
    }
    absl::Status fenced = Fence(h, req.job_id(), req.worker_id(), req.attempt());
    if (!fenced.ok()) return fenced;
    if (req.kind() == moe4::v1::FAILURE_KIND_OUT_OF_MEMORY && req.memory_needed_mb() > 0) {
      // Learned: this combination needs more than the attempt had. Its retry
      // and its replicates still pending go only where that much is free.
      txn.exec_prepared(kRaiseMemoryName, req.job_id(), req.memory_needed_mb());
    }
    out.will_retry = req.retryable() && h.attempt < h.max_attempts;
    if (out.will_retry) {
      txn.exec_prepared(kFailRetryName, req.job_id(), req.reason(), backoff);
    } else {
      const std::string reason =
          req.retryable() ? absl::StrFormat("%s (attempt %d of %d)", req.reason(), h.attempt,
                                            h.max_attempts)
                          : req.reason();
      txn.exec_prepared(kFailFinalName, req.job_id(), reason);
    }
    EndAttempt(txn, req.job_id(), req.attempt(), out.will_retry ? "retry" : "failed",
               req.reason());
    TouchWorker(txn, req.worker_id());
    Event(txn, out.will_retry ? "job_retry" : "job_failed", h.campaign_id, req.job_id(),
          req.worker_id(),
          // StrCat, not StrFormat: this abseil's StrFormat has no %v and
          // returned "" for it, so these details used to be empty.
          absl::StrCat("attempt=", req.attempt(), " retryable=", req.retryable() ? "true" : "false",
                       req.kind() == moe4::v1::FAILURE_KIND_OUT_OF_MEMORY
                           ? absl::StrCat(" out_of_memory memory_needed_mb=", req.memory_needed_mb())
                           : "",
                       " reason=", req.reason()));
    if (!out.will_retry) {
      MaybeRefill(txn, h.campaign_id, req.job_id());
      // asha: a failure may close a rung (its waiting members then stop).
      AdvanceRungs(txn, h.campaign_id, Seconds(options_.checkpoint_affinity));
      MaybeFinishCampaign(txn, h.campaign_id);
    }
    txn.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  spdlog::warn("campaign {} job {} attempt {} failed ({}): {}", campaign_id, req.job_id(),
               req.attempt(), out.will_retry ? "will retry" : "final", req.reason());
  return out;
}

// ---- reaper ------------------------------------------------------------------

absl::StatusOr<int> PgJobStore::ExtendHeldLeases(absl::Duration grace) {
  int extended = 0;
  absl::Status s = pool_.Run("extending held leases", [&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    // Once per silence: a lease already given grace is given it again only
    // if its worker was heard from since (any RPC touches last_seen). A dead
    // worker's job is then reaped one grace after the first start, however
    // often a crash-looping coordinator restarts.
    pqxx::result r = txn.exec_params(
        "UPDATE jobs j SET lease_deadline = now() + make_interval(secs => $1::float8), "
        "  lease_graced_at = now(), updated_at = now() "
        "FROM workers w "
        "WHERE w.id = j.worker_id AND j.state IN ('leased', 'running') "
        "  AND j.lease_deadline < now() + make_interval(secs => $1::float8) "
        "  AND (j.lease_graced_at IS NULL OR j.lease_graced_at < w.last_seen)",
        Seconds(grace));
    extended = static_cast<int>(r.affected_rows());
    txn.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return extended;
}

absl::StatusOr<ReapResult> PgJobStore::Reap() {
  ReapResult out;
  std::vector<std::pair<int64_t, int64_t>> failed_for_good;  // (campaign, job), for refill
  // 1. The per-job time budget, separate from liveness: a job that heartbeats
  //    faithfully but runs past max_job_seconds is failed (a retry would only
  //    run as long again). SKIP LOCKED: a job a worker is writing right now is
  //    looked at on the next sweep.
  absl::Status s = pool_.Run("reaping timed-out jobs", [&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    pqxx::result r = txn.exec(
        "WITH t AS (SELECT id FROM jobs WHERE state IN ('leased', 'running') "
        "    AND max_job_seconds > 0 "
        "    AND attempt_started_at + make_interval(secs => max_job_seconds) < now() "
        "    FOR UPDATE SKIP LOCKED), "
        "upd AS (UPDATE jobs j SET state = 'failed', "
        "    error = format('exceeded max_job_seconds=%s', j.max_job_seconds), "
        "    lease_deadline = NULL, finished_at = now(), updated_at = now() "
        "  FROM t WHERE j.id = t.id "
        "  RETURNING j.id, j.campaign_id, j.attempt, j.worker_id, j.error), "
        "a AS (UPDATE attempts a SET ended_at = now(), outcome = 'timed_out', reason = upd.error "
        "  FROM upd WHERE a.job_id = upd.id AND a.attempt = upd.attempt), "
        "ev AS (INSERT INTO events (kind, campaign_id, job_id, worker_id, detail) "
        "  SELECT 'job_timed_out', campaign_id, id, worker_id, error FROM upd) "
        "SELECT id, campaign_id, attempt, error FROM upd");
    txn.commit();
    out.timed_out = static_cast<int>(r.size());
    for (const auto& row : r) {
      failed_for_good.emplace_back(row[1].as<int64_t>(), row[0].as<int64_t>());
      spdlog::warn("campaign {} job {} attempt {} failed: {}", row[1].as<int64_t>(),
                   row[0].as<int64_t>(), row[2].as<int>(), row[3].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;

  // 2. Expired leases: the holder stopped heartbeating. Requeue with backoff,
  //    or fail once the attempts are used up.
  s = pool_.Run("reaping expired leases", [&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    pqxx::result r = txn.exec_params(
        "WITH x AS (SELECT id FROM jobs WHERE state IN ('leased', 'running') "
        "    AND lease_deadline < now() FOR UPDATE SKIP LOCKED), "
        "upd AS (UPDATE jobs j SET lease_expiries = j.lease_expiries + 1, "
        "    state = CASE WHEN j.attempt >= j.max_attempts THEN 'failed' ELSE 'pending' END, "
        "    error = CASE WHEN j.attempt >= j.max_attempts "
        "      THEN format('lease expired %s times', j.lease_expiries + 1) "
        "      ELSE format('attempt %s: lease expired', j.attempt) END, "
        "    not_before = now() + make_interval(secs => "
        "      least($2::float8, $1::float8 * power(2, greatest(j.attempt - 1, 0)))), "
        "    finished_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END, "
        "    lease_deadline = NULL, updated_at = now() "
        "  FROM x WHERE j.id = x.id "
        "  RETURNING j.id, j.campaign_id, j.attempt, j.max_attempts, j.state, j.worker_id, "
        "    j.error), "
        "a AS (UPDATE attempts a SET ended_at = now(), outcome = 'lease_expired' "
        "  FROM upd WHERE a.job_id = upd.id AND a.attempt = upd.attempt), "
        "ev AS (INSERT INTO events (kind, campaign_id, job_id, worker_id, detail) "
        "  SELECT CASE WHEN state = 'failed' THEN 'job_failed' ELSE 'lease_expired' END, "
        "    campaign_id, id, worker_id, error FROM upd) "
        "SELECT id, campaign_id, attempt, max_attempts, state, coalesce(worker_id, 0), error "
        "FROM upd",
        Seconds(options_.backoff_base), Seconds(options_.backoff_max));
    txn.commit();
    for (const auto& row : r) {
      const bool failed = row[4].as<std::string>() == "failed";
      (failed ? out.failed : out.requeued)++;
      if (failed) failed_for_good.emplace_back(row[1].as<int64_t>(), row[0].as<int64_t>());
      spdlog::warn("campaign {} job {} attempt {}/{}: lease of worker {} expired; {}",
                   row[1].as<int64_t>(), row[0].as<int64_t>(), row[2].as<int>(),
                   row[3].as<int>(), row[5].as<int64_t>(),
                   failed ? "failed: " + row[6].as<std::string>() : std::string("requeued"));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;

  // 2b. Refill the combinations the steps above failed for good, each under
  //     its campaign's row lock (the order every job-finishing transaction
  //     takes), before step 3 could call their campaign done.
  for (const auto& [campaign_id, job_id] : failed_for_good) {
    s = pool_.Run("refilling a failed combination", [&](pqxx::connection& conn) {
      pqxx::work txn(conn);
      txn.exec_params("SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE", campaign_id);
      MaybeRefill(txn, campaign_id, job_id);
      AdvanceRungs(txn, campaign_id, Seconds(options_.checkpoint_affinity));
      txn.commit();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }

  // 3. Campaigns with nothing left to run. Complete/Fail do this in their own
  //    transaction; the sweep covers jobs the steps above ended.
  s = pool_.Run("finishing campaigns", [&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    pqxx::result r = txn.exec(
        "WITH d AS (UPDATE campaigns c SET state = 'done', finished_at = now(), "
        "    updated_at = now() "
        "  WHERE c.state = 'active' AND NOT EXISTS (SELECT 1 FROM jobs j "
        "    WHERE j.campaign_id = c.id AND j.state IN ('pending', 'leased', 'running', 'waiting')) "
        "  RETURNING c.id), "
        "ev AS (INSERT INTO events (kind, campaign_id) SELECT 'campaign_done', id FROM d) "
        "SELECT id FROM d");
    txn.commit();
    out.campaigns_done = static_cast<int>(r.size());
    for (const auto& row : r) spdlog::info("campaign {} done", row[0].as<int64_t>());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace moe4::coordinator
