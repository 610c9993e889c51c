#include "coordinator/store/pg_job_store.h"

#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/sampling.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {
namespace {

using moe4::v1::CampaignState;
using moe4::v1::JobState;

// Rows per INSERT when materialising jobs: keeps one statement's parameters
// to a few megabytes even for a 100,000-job campaign.
constexpr size_t kJobInsertChunk = 5000;

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
    "       cardinality(j.families), c.epochs, c.state "
    "FROM jobs j JOIN campaigns c ON c.id = j.campaign_id WHERE j.id = $1 FOR UPDATE OF j";

constexpr const char* kTouchWorkerName = "moe4_touch_worker";
constexpr const char* kTouchWorkerSql = "UPDATE workers SET last_seen = now() WHERE id = $1";

constexpr const char* kMaybeFinishCampaignName = "moe4_maybe_finish_campaign";
constexpr const char* kMaybeFinishCampaignSql =
    "UPDATE campaigns c SET state = 'done', finished_at = now(), updated_at = now() "
    "WHERE c.id = $1 AND c.state = 'active' AND NOT EXISTS ("
    "  SELECT 1 FROM jobs j WHERE j.campaign_id = c.id "
    "  AND j.state IN ('pending', 'leased', 'running')) RETURNING c.id";

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
constexpr const char* kClaimJobName = "moe4_claim_job";
constexpr const char* kClaimJobSql =
    "WITH cand AS ("
    "  SELECT j.id FROM jobs j JOIN campaigns c ON c.id = j.campaign_id "
    "  WHERE j.state = 'pending' AND c.state = 'active' AND j.not_before <= now() "
    "    AND (j.device_kind = '' OR j.device_kind = $2) AND j.min_memory_mb <= $3 "
    "  ORDER BY j.priority DESC, j.id LIMIT 1 "
    "  FOR UPDATE OF j SKIP LOCKED), "
    "claimed AS ("
    "  UPDATE jobs j SET state = 'leased', attempt = j.attempt + 1, worker_id = $1, "
    "    lease_owner = $4, lease_deadline = now() + make_interval(secs => $5), "
    "    attempt_started_at = now(), started_at = coalesce(j.started_at, now()), "
    "    progress_epoch = NULL, progress_step = NULL, updated_at = now() "
    "  FROM cand WHERE j.id = cand.id "
    "  RETURNING j.id, j.attempt, j.campaign_id, j.families, j.seed, j.lease_deadline, "
    "    j.max_job_seconds), "
    "att AS ("
    "  INSERT INTO attempts (job_id, attempt, worker_id, lease_owner) "
    "  SELECT id, attempt, $1, $4 FROM claimed) "
    "SELECT cl.id, cl.attempt, cl.campaign_id, array_to_json(cl.families)::text, "
    "  cl.seed::text, c.recipe::text, c.dataset::text, cl.max_job_seconds, "
    "  (extract(epoch FROM cl.lease_deadline) * 1000)::bigint, "
    "  (SELECT coalesce(max(e.epoch), 0) FROM epochs e WHERE e.job_id = cl.id) "
    "FROM claimed cl JOIN campaigns c ON c.id = cl.campaign_id";

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
// from an older checkpoint, replaces its row. A macro, not a constant, only
// so that kReportLastEpochSql can embed the same text at compile time.
#define MOE4_UPSERT_EPOCH_SQL                                                                \
  "INSERT INTO epochs (job_id, epoch, attempt, train_loss, train_accuracy, test_loss, "      \
  "  test_accuracy, lr, gate_mean, routing_share, expert_accuracy, routing_entropy, "        \
  "  dead_experts, ecology, temperature, epoch_seconds, images_per_second, "                 \
  "  peak_memory_bytes) "                                                                    \
  "VALUES ($1, $2, $3, $4::float8, $5::float8, $6::float8, $7::float8, $8::float8, "         \
  "  $9::float8[], $10::float8[], $11::float8[], $12::float8, $13, $14::float8, "            \
  "  $15::float8, $16::float8, $17::float8, $18) "                                           \
  "ON CONFLICT (job_id, epoch) DO UPDATE SET attempt = EXCLUDED.attempt, "                   \
  "  train_loss = EXCLUDED.train_loss, train_accuracy = EXCLUDED.train_accuracy, "           \
  "  test_loss = EXCLUDED.test_loss, test_accuracy = EXCLUDED.test_accuracy, "               \
  "  lr = EXCLUDED.lr, gate_mean = EXCLUDED.gate_mean, "                                     \
  "  routing_share = EXCLUDED.routing_share, "                                               \
  "  expert_accuracy = EXCLUDED.expert_accuracy, "                                           \
  "  routing_entropy = EXCLUDED.routing_entropy, dead_experts = EXCLUDED.dead_experts, "     \
  "  ecology = EXCLUDED.ecology, temperature = EXCLUDED.temperature, "                       \
  "  epoch_seconds = EXCLUDED.epoch_seconds, "                                               \
  "  images_per_second = EXCLUDED.images_per_second, "                                       \
  "  peak_memory_bytes = EXCLUDED.peak_memory_bytes, recorded_at = now()"

constexpr const char* kUpsertEpochName = "moe4_upsert_epoch";
constexpr const char* kUpsertEpochSql = MOE4_UPSERT_EPOCH_SQL;

// The last (usually the only) epoch of a report, with what follows it in the
// same statement: reporting is a sign of life, so the lease is extended like
// a heartbeat's ($19 seconds, progress to epoch $20) and worker $21 is seen.
// One round trip instead of three. The data-modifying CTEs always run to
// completion; now() is the transaction's start either way, so the rows
// written are those the separate statements wrote.
constexpr const char* kReportLastEpochName = "moe4_report_last_epoch";
constexpr const char* kReportLastEpochSql =
    "WITH e AS (" MOE4_UPSERT_EPOCH_SQL "), "
    "w AS (UPDATE workers SET last_seen = now() WHERE id = $21) "
    "UPDATE jobs SET state = 'running', lease_deadline = now() + make_interval(secs => $19), "
    "  progress_epoch = greatest(coalesce(progress_epoch, 0), $20), updated_at = now() "
    "WHERE id = $1";

#undef MOE4_UPSERT_EPOCH_SQL

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
constexpr const char* kCompleteJobName = "moe4_complete_job";
constexpr const char* kCompleteJobSql =
    "WITH j AS (UPDATE jobs SET state = 'succeeded', final_test_accuracy = $2::float8, "
    "    best_test_accuracy = $3::float8, parameter_count = $4, train_seconds = $5::float8, "
    "    error = NULL, lease_deadline = NULL, finished_at = now(), updated_at = now() "
    "  WHERE id = $1), "
    "a AS (UPDATE attempts SET ended_at = now(), outcome = 'succeeded', reason = NULL "
    "  WHERE job_id = $1 AND attempt = $6), "
    "w AS (UPDATE workers SET last_seen = now() WHERE id = $7) "
    "INSERT INTO events (kind, campaign_id, job_id, worker_id, detail) "
    "VALUES ('job_succeeded', nullif($8::bigint, 0), nullif($1::bigint, 0), "
    "  nullif($7::bigint, 0), $9)";

constexpr const char* kFailRetryName = "moe4_fail_retry";
constexpr const char* kFailRetrySql =
    "UPDATE jobs SET state = 'pending', error = $2, lease_deadline = NULL, "
    "  not_before = now() + make_interval(secs => $3), updated_at = now() WHERE id = $1";

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
      {kHeartbeatWorkerName, kHeartbeatWorkerSql},
      {kPauseJobName, kPauseJobSql},
      {kExtendLeaseName, kExtendLeaseSql},
      {kUpsertEpochName, kUpsertEpochSql},
      {kReportLastEpochName, kReportLastEpochSql},
      {kReportProgressName, kReportProgressSql},
      {kCountEpochsName, kCountEpochsSql},
      {kCompleteJobName, kCompleteJobSql},
      {kFailRetryName, kFailRetrySql},
      {kFailFinalName, kFailFinalSql},
  };
  return *kPrepared;
}

// ---- conversions -----------------------------------------------------------

JobState JobStateFromText(absl::string_view s) {
  if (s == "pending") return moe4::v1::JOB_STATE_PENDING;
  if (s == "leased") return moe4::v1::JOB_STATE_LEASED;
  if (s == "running") return moe4::v1::JOB_STATE_RUNNING;
  if (s == "succeeded") return moe4::v1::JOB_STATE_SUCCEEDED;
  if (s == "failed") return moe4::v1::JOB_STATE_FAILED;
  if (s == "cancelled") return moe4::v1::JOB_STATE_CANCELLED;
  return moe4::v1::JOB_STATE_UNSPECIFIED;
}

CampaignState CampaignStateFromText(absl::string_view s) {
  if (s == "active") return moe4::v1::CAMPAIGN_STATE_ACTIVE;
  if (s == "paused") return moe4::v1::CAMPAIGN_STATE_PAUSED;
  if (s == "cancelled") return moe4::v1::CAMPAIGN_STATE_CANCELLED;
  if (s == "done") return moe4::v1::CAMPAIGN_STATE_DONE;
  return moe4::v1::CAMPAIGN_STATE_UNSPECIFIED;
}

bool IsHeld(absl::string_view state) { return state == "leased" || state == "running"; }

// A float8 as Postgres reads it back exactly (including NaN and infinities,
// which a diverging run can report).
std::string Float8Text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return absl::StrFormat("%.17g", v);
}

std::string Float8ArrayLiteral(const google::protobuf::RepeatedField<double>& values) {
  std::string out = "{";
  for (int i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += Float8Text(values[i]);
  }
  out += '}';
  return out;
}

// A text[] literal with every element quoted and escaped.
std::string TextArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

// Columns selected as array_to_json(x)::text.
std::vector<std::string> JsonTextArray(const pqxx::field& f) {
  std::vector<std::string> out;
  if (f.is_null()) return out;
  nlohmann::json j = nlohmann::json::parse(f.c_str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

double DoubleOr(const pqxx::field& f, double fallback = 0) {
  return f.is_null() ? fallback : f.as<double>();
}
int64_t Int64Or(const pqxx::field& f, int64_t fallback = 0) {
  return f.is_null() ? fallback : f.as<int64_t>();
}

std::string MessageJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  std::string out;
  // Cannot fail for our own messages (no Any fields).
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  return out;
}

absl::Status ParseMessageJson(const std::string& json, google::protobuf::Message* m) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;  // tolerate rows written by a newer coordinator
  auto s = google::protobuf::util::JsonStringToMessage(json, m, opts);
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat("stored ", m->GetTypeName(), " is not valid JSON: ",
                                            s.ToString()));
  }
  return absl::OkStatus();
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

absl::Status NoCampaign(int64_t id) {
  return absl::NotFoundError(absl::StrCat("campaign ", id, " does not exist"));
}

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
  int epochs = 0;
  std::string campaign_state;
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

void EndAttempt(pqxx::work& txn, int64_t job_id, int attempt, absl::string_view outcome,
                const std::string& reason) {
  txn.exec_prepared(kEndAttemptName, job_id, attempt, std::string(outcome), reason);
}

// Shared by ListCampaigns and GetCampaign: campaign rows with job counts.
constexpr const char* kSummarySql =
    "SELECT c.id, c.name, c.state, c.k, c.sampler, c.budget, "
    "       (extract(epoch FROM c.created_at) * 1000)::bigint, c.dataset_name, c.epochs, "
    "       count(j.id) FILTER (WHERE j.state = 'pending'), "
    "       count(j.id) FILTER (WHERE j.state = 'leased'), "
    "       count(j.id) FILTER (WHERE j.state = 'running'), "
    "       count(j.id) FILTER (WHERE j.state = 'succeeded'), "
    "       count(j.id) FILTER (WHERE j.state = 'failed'), "
    "       count(j.id) FILTER (WHERE j.state = 'cancelled'), "
    "       max(j.final_test_accuracy) FILTER (WHERE j.state = 'succeeded') "
    "FROM campaigns c LEFT JOIN jobs j ON j.campaign_id = c.id "
    "WHERE ($1::bigint = 0 OR c.id = $1) "
    "GROUP BY c.id ORDER BY c.id DESC LIMIT $2";

moe4::v1::CampaignSummary SummaryFromRow(const pqxx::row& row) {
  moe4::v1::CampaignSummary s;
  s.set_campaign_id(row[0].as<int64_t>());
  s.set_name(row[1].as<std::string>());
  s.set_state(CampaignStateFromText(row[2].as<std::string>()));
  s.set_k(row[3].as<int>());
  s.set_sampler(row[4].as<std::string>());
  s.set_budget(row[5].as<int>());
  s.set_created_unix_ms(row[6].as<int64_t>());
  s.set_dataset(row[7].as<std::string>());
  s.set_epochs(row[8].as<int>());
  s.set_pending(row[9].as<int>());
  s.set_leased(row[10].as<int>());
  s.set_running(row[11].as<int>());
  s.set_succeeded(row[12].as<int>());
  s.set_failed(row[13].as<int>());
  s.set_cancelled(row[14].as<int>());
  s.set_best_test_accuracy(DoubleOr(row[15]));
  return s;
}

// A float8[] column selected as text ("{0.25,0.5,NaN}"). Postgres prints the
// shortest text that reads back exactly, and strtod reads NaN and Infinity,
// which JSON could not carry.
void ParseFloat8Array(const pqxx::field& f, google::protobuf::RepeatedField<double>* out) {
  if (f.is_null()) return;
  std::string text = f.as<std::string>();
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return;
  text = text.substr(1, text.size() - 2);
  if (text.empty()) return;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    out->Add(std::strtod(std::string(item).c_str(), nullptr));
  }
}

// Every epoch of the jobs in $1 (a bigint[]), in job and epoch order; the
// columns EpochFromRow reads, from column 1 on.
constexpr const char* kEpochsOfJobsSql =
    "SELECT job_id, epoch, train_loss, train_accuracy, test_loss, test_accuracy, lr, "
    "  gate_mean::text, routing_share::text, expert_accuracy::text, routing_entropy, "
    "  dead_experts, ecology, temperature, epoch_seconds, images_per_second, peak_memory_bytes "
    "FROM epochs WHERE job_id = ANY($1::bigint[]) ORDER BY job_id, epoch";

moe4::v1::EpochMetrics EpochFromRow(const pqxx::row& row, int first) {
  moe4::v1::EpochMetrics m;
  int c = first;
  m.set_epoch(row[c++].as<int>());
  m.set_train_loss(row[c++].as<double>());
  m.set_train_accuracy(row[c++].as<double>());
  m.set_test_loss(row[c++].as<double>());
  m.set_test_accuracy(row[c++].as<double>());
  m.set_lr(row[c++].as<double>());
  ParseFloat8Array(row[c++], m.mutable_gate_mean());
  ParseFloat8Array(row[c++], m.mutable_routing_share());
  ParseFloat8Array(row[c++], m.mutable_expert_accuracy());
  m.set_routing_entropy(row[c++].as<double>());
  m.set_dead_experts(row[c++].as<int>());
  m.set_ecology(row[c++].as<double>());
  m.set_temperature(row[c++].as<double>());
  m.set_epoch_seconds(row[c++].as<double>());
  m.set_images_per_second(row[c++].as<double>());
  m.set_peak_memory_bytes(row[c++].as<int64_t>());
  return m;
}

// Shared by ListJobs and GetJob, one job per row: the jobs of campaign $1
// (0 = any) or job $2 (0 = any), in state $3 ('' = any), with an id above $4,
// at most $5, in id order. The worker is the holder of the current or last
// attempt.
constexpr const char* kJobsSql =
    "SELECT j.id, j.campaign_id, array_to_json(j.families)::text, j.state, j.attempt, "
    "  j.max_attempts, j.final_test_accuracy, j.best_test_accuracy, "
    "  (SELECT count(*) FROM epochs e WHERE e.job_id = j.id), c.epochs, w.name, j.error, "
    "  j.parameter_count, j.train_seconds, j.progress_epoch, j.progress_step "
    "FROM jobs j JOIN campaigns c ON c.id = j.campaign_id "
    "LEFT JOIN workers w ON w.id = j.worker_id "
    "WHERE ($1::bigint = 0 OR j.campaign_id = $1) AND ($2::bigint = 0 OR j.id = $2) "
    "  AND ($3::text = '' OR j.state = $3) AND j.id > $4 "
    "ORDER BY j.id LIMIT $5";

// "{1,2,3}": a bigint[] parameter.
std::string BigintArrayLiteral(const std::vector<int64_t>& values) {
  return "{" + absl::StrJoin(values, ",") + "}";
}

moe4::v1::JobInfo JobInfoFromRow(const pqxx::row& row) {
  moe4::v1::JobInfo j;
  j.set_job_id(row[0].as<int64_t>());
  j.set_campaign_id(row[1].as<int64_t>());
  for (auto& f : JsonTextArray(row[2])) j.add_families(std::move(f));
  j.set_state(JobStateFromText(row[3].as<std::string>()));
  j.set_attempt(row[4].as<int>());
  j.set_max_attempts(row[5].as<int>());
  j.set_final_test_accuracy(DoubleOr(row[6]));
  j.set_best_test_accuracy(DoubleOr(row[7]));
  j.set_epochs_done(row[8].as<int>());
  j.set_epochs_total(row[9].as<int>());
  if (!row[10].is_null()) j.set_worker_name(row[10].as<std::string>());
  if (!row[11].is_null()) j.set_error(row[11].as<std::string>());
  j.set_parameter_count(Int64Or(row[12]));
  j.set_train_seconds(DoubleOr(row[13]));
  j.set_progress_epoch(static_cast<int32_t>(Int64Or(row[14])));
  j.set_progress_step(Int64Or(row[15]));
  return j;
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
  int64_t campaign_id = 0;
  absl::Status s = pool_.Run("creating a campaign", [&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    campaign_id =
        txn.exec_params1(
               "INSERT INTO campaigns (name, k, sampler, budget, seed, pool, max_attempts, "
               "  priority, max_job_seconds, dataset_name, epochs, recipe, dataset, device_kind, "
               "  min_memory_mb, spec_yaml) "
               "VALUES ($1, $2, $3, $4, $5::numeric, $6::text[], $7, $8, $9, $10, $11, "
               "  $12::jsonb, $13::jsonb, $14, $15, $16) RETURNING id",
               spec.name, spec.k, std::string(SamplerName(spec.sampler)),
               static_cast<int64_t>(plan.jobs.size()), std::to_string(spec.seed),
               TextArrayLiteral(spec.pool), spec.max_attempts, spec.priority,
               spec.max_job_seconds, spec.dataset.name(), spec.recipe.epochs(), MessageJson(recipe),
               MessageJson(spec.dataset), spec.requirements.device_kind(),
               static_cast<int64_t>(spec.requirements.min_memory_mb()), plan.spec_yaml)[0]
            .as<int64_t>();
    for (size_t begin = 0; begin < plan.jobs.size(); begin += kJobInsertChunk) {
      const size_t end = std::min(plan.jobs.size(), begin + kJobInsertChunk);
      std::vector<std::string> ordinals, ranks, families, seeds;
      for (size_t i = begin; i < end; ++i) {
        ordinals.push_back(std::to_string(i));
        ranks.push_back(std::to_string(plan.jobs[i].rank));
        // Family ids are catalogue ids ([A-Za-z0-9_-]), so a comma joins them safely.
        families.push_back(absl::StrJoin(plan.jobs[i].families, ","));
        seeds.push_back(std::to_string(plan.jobs[i].seed));
      }
      txn.exec_params(
          "INSERT INTO jobs (campaign_id, ordinal, combo_rank, families, seed, max_attempts, "
          "  priority, device_kind, min_memory_mb, max_job_seconds) "
          "SELECT $1, o, r, string_to_array(f, ','), s::numeric, $2, $3, $4, $5, $6 "
          "FROM unnest($7::int[], $8::bigint[], $9::text[], $10::text[]) AS t(o, r, f, s)",
          campaign_id, spec.max_attempts, spec.priority, spec.requirements.device_kind(),
          static_cast<int64_t>(spec.requirements.min_memory_mb()), spec.max_job_seconds,
          "{" + absl::StrJoin(ordinals, ",") + "}", "{" + absl::StrJoin(ranks, ",") + "}",
          TextArrayLiteral(families), "{" + absl::StrJoin(seeds, ",") + "}");
    }
    Event(txn, "campaign_submitted", campaign_id, 0, 0,
          absl::StrFormat("name=%s sampler=%s k=%d jobs=%d", spec.name, SamplerName(spec.sampler),
                          spec.k, plan.jobs.size()));
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

absl::StatusOr<std::vector<moe4::v1::CampaignSummary>> PgJobStore::ListCampaigns(int limit) {
  std::vector<moe4::v1::CampaignSummary> out;
  absl::Status s = pool_.Run("listing campaigns", [&](pqxx::connection& conn) {
    pqxx::read_transaction txn(conn);
    for (const auto& row : txn.exec_params(kSummarySql, int64_t{0}, limit)) {
      out.push_back(SummaryFromRow(row));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<CampaignStatus> PgJobStore::GetCampaign(int64_t campaign_id) {
  CampaignStatus st;
  absl::Status s = pool_.Run("reading a campaign", [&](pqxx::connection& conn) {
    st = CampaignStatus{};
    pqxx::read_transaction txn(conn);
    pqxx::result r = txn.exec_params(kSummarySql, campaign_id, 1);
    if (r.empty()) return NoCampaign(campaign_id);
    moe4::v1::GetResponse& resp = st.response;
    *resp.mutable_campaign() = SummaryFromRow(r[0]);
    st.state = resp.campaign().state();
    pqxx::row spec = txn.exec_params1(
        "SELECT spec_yaml, (SELECT count(*) FROM jobs WHERE campaign_id = $1) FROM campaigns "
        "WHERE id = $1",
        campaign_id);
    resp.set_spec_yaml(spec[0].as<std::string>());
    resp.set_epochs_total(spec[1].as<int>() * resp.campaign().epochs());
    pqxx::row ep = txn.exec_params1(
        "SELECT count(*), avg(e.epoch_seconds) FROM epochs e JOIN jobs j ON j.id = e.job_id "
        "WHERE j.campaign_id = $1",
        campaign_id);
    resp.set_epochs_done(ep[0].as<int>());
    resp.set_mean_epoch_seconds(DoubleOr(ep[1]));
    const double liveness = Seconds(options_.worker_liveness);
    pqxx::row workers = txn.exec_params1(
        "SELECT (SELECT count(DISTINCT worker_id) FROM jobs WHERE campaign_id = $1 "
        "          AND state IN ('leased', 'running')), "
        "       (SELECT count(*) FROM workers "
        "          WHERE last_seen > now() - make_interval(secs => $2))",
        campaign_id, liveness);
    resp.set_busy_workers(workers[0].as<int>());
    resp.set_live_workers(workers[1].as<int>());
    for (const auto& row : txn.exec_params(
             "SELECT device_kind, min_memory_mb, count(*) FROM jobs WHERE campaign_id = $1 "
             "AND state = 'pending' AND not_before <= now() GROUP BY 1, 2 ORDER BY 1, 2",
             campaign_id)) {
      st.pending_ready.push_back(
          {row[0].as<std::string>(), row[1].as<int64_t>(), row[2].as<int>()});
    }
    for (const auto& row : txn.exec_params(
             "SELECT device_kind, device_memory_mb FROM workers "
             "WHERE last_seen > now() - make_interval(secs => $1) ORDER BY id",
             liveness)) {
      st.live_workers.push_back({row[0].as<std::string>(), row[1].as<int64_t>()});
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return st;
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
        "  WHERE campaign_id = $1 AND state IN ('pending', 'leased', 'running') "
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

absl::StatusOr<std::vector<moe4::v1::LeaderboardEntry>> PgJobStore::Leaderboard(
    int64_t campaign_id, int top, bool by_best) {
  // The ORDER BY column is one of two constants, never request text.
  const std::string sql = absl::StrCat(
      "SELECT j.id, array_to_json(j.families)::text, j.state, j.final_test_accuracy, "
      "       j.best_test_accuracy, (SELECT count(*) FROM epochs e WHERE e.job_id = j.id), "
      "       j.train_seconds, j.parameter_count "
      "FROM jobs j WHERE j.campaign_id = $1 AND j.state = 'succeeded' ORDER BY ",
      by_best ? "j.best_test_accuracy" : "j.final_test_accuracy",
      " DESC NULLS LAST, j.id LIMIT $2");
  std::vector<moe4::v1::LeaderboardEntry> out;
  absl::Status s = pool_.Run("reading the leaderboard", [&](pqxx::connection& conn) {
    out.clear();
    pqxx::read_transaction txn(conn);
    if (txn.exec_params("SELECT 1 FROM campaigns WHERE id = $1", campaign_id).empty()) {
      return NoCampaign(campaign_id);
    }
    for (const auto& row : txn.exec_params(sql, campaign_id, top)) {
      moe4::v1::LeaderboardEntry e;
      e.set_job_id(row[0].as<int64_t>());
      for (auto& f : JsonTextArray(row[1])) e.add_families(std::move(f));
      e.set_state(JobStateFromText(row[2].as<std::string>()));
      e.set_final_test_accuracy(DoubleOr(row[3]));
      e.set_best_test_accuracy(DoubleOr(row[4]));
      e.set_epochs_done(row[5].as<int>());
      e.set_train_seconds(DoubleOr(row[6]));
      e.set_parameter_count(Int64Or(row[7]));
      out.push_back(std::move(e));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<moe4::v1::FamilyStat>> PgJobStore::FamilyStats(int64_t campaign_id) {
  std::vector<moe4::v1::FamilyStat> out;
  absl::Status s = pool_.Run("reading family statistics", [&](pqxx::connection& conn) {
    out.clear();
    pqxx::read_transaction txn(conn);
    if (txn.exec_params("SELECT 1 FROM campaigns WHERE id = $1", campaign_id).empty()) {
      return NoCampaign(campaign_id);
    }
    // One definition of the statistics: the analysts' view.
    for (const auto& row : txn.exec_params(
             "SELECT family, n, mean, std, ci95_low, ci95_high, best FROM v_family_stats "
             "WHERE campaign_id = $1 ORDER BY mean DESC NULLS LAST, family",
             campaign_id)) {
      moe4::v1::FamilyStat f;
      f.set_family(row[0].as<std::string>());
      f.set_n(row[1].as<int>());
      f.set_mean(DoubleOr(row[2]));
      // Undefined for n < 2 (NULL in the view): NaN says so, 0 would lie.
      const double nan = std::numeric_limits<double>::quiet_NaN();
      f.set_std(DoubleOr(row[3], nan));
      f.set_ci95_low(DoubleOr(row[4], nan));
      f.set_ci95_high(DoubleOr(row[5], nan));
      f.set_best(DoubleOr(row[6]));
      out.push_back(std::move(f));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<CampaignCandidates> PgJobStore::Candidates(int64_t campaign_id) {
  CampaignCandidates out;
  absl::Status s = pool_.Run("reading candidates", [&](pqxx::connection& conn) {
    out = CampaignCandidates{};
    pqxx::read_transaction txn(conn);
    pqxx::result c = txn.exec_params(
        "SELECT k, array_to_json(pool)::text FROM campaigns WHERE id = $1", campaign_id);
    if (c.empty()) return NoCampaign(campaign_id);
    out.k = c[0][0].as<int>();
    out.pool = JsonTextArray(c[0][1]);
    for (const auto& row : txn.exec_params(
             "SELECT array_to_json(families)::text FROM jobs WHERE campaign_id = $1 ORDER BY id",
             campaign_id)) {
      out.families.push_back(JsonTextArray(row[0]));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<moe4::v1::WorkerInfo>> PgJobStore::ListWorkers() {
  std::vector<moe4::v1::WorkerInfo> out;
  absl::Status s = pool_.Run("listing workers", [&](pqxx::connection& conn) {
    out.clear();
    pqxx::read_transaction txn(conn);
    for (const auto& row : txn.exec_params(
             "SELECT w.id, w.name, w.device_kind, w.device_name, w.device_memory_mb, "
             "  (SELECT j.id FROM jobs j WHERE j.worker_id = w.id "
             "     AND j.state IN ('leased', 'running') ORDER BY j.id LIMIT 1), "
             "  (extract(epoch FROM w.last_seen) * 1000)::bigint, "
             "  w.last_seen > now() - make_interval(secs => $1) "
             "FROM workers w ORDER BY w.name",
             Seconds(options_.worker_liveness))) {
      moe4::v1::WorkerInfo w;
      w.set_worker_id(row[0].as<int64_t>());
      w.set_name(row[1].as<std::string>());
      w.set_device_kind(row[2].as<std::string>());
      w.set_device_name(row[3].as<std::string>());
      w.set_device_memory_mb(row[4].as<int64_t>());
      w.set_current_job_id(Int64Or(row[5]));
      w.set_last_heartbeat_unix_ms(row[6].as<int64_t>());
      w.set_alive(row[7].as<bool>());
      out.push_back(std::move(w));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<moe4::v1::JobInfo>> PgJobStore::ListJobs(const JobQuery& query) {
  std::vector<moe4::v1::JobInfo> out;
  absl::Status s = pool_.Run("listing jobs", [&](pqxx::connection& conn) {
    out.clear();
    pqxx::read_transaction txn(conn);
    if (txn.exec_params("SELECT 1 FROM campaigns WHERE id = $1", query.campaign_id).empty()) {
      return NoCampaign(query.campaign_id);
    }
    std::map<int64_t, size_t> index;  // job id -> position in out
    std::vector<int64_t> ids;
    for (const auto& row : txn.exec_params(kJobsSql, query.campaign_id, int64_t{0}, query.state,
                                           query.after_job_id, query.limit)) {
      out.push_back(JobInfoFromRow(row));
      index[out.back().job_id()] = out.size() - 1;
      ids.push_back(out.back().job_id());
    }
    if (!query.include_epochs || ids.empty()) return absl::OkStatus();
    // One query for every job's epochs rather than one per job.
    for (const auto& row : txn.exec_params(kEpochsOfJobsSql, BigintArrayLiteral(ids))) {
      *out[index.at(row[0].as<int64_t>())].add_epochs() = EpochFromRow(row, 1);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<moe4::v1::GetJobResponse> PgJobStore::GetJob(int64_t job_id) {
  moe4::v1::GetJobResponse out;
  absl::Status s = pool_.Run("reading a job", [&](pqxx::connection& conn) {
    out.Clear();
    pqxx::read_transaction txn(conn);
    pqxx::result r = txn.exec_params(kJobsSql, int64_t{0}, job_id, std::string(), int64_t{0}, 1);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("job ", job_id, " does not exist"));
    *out.mutable_job() = JobInfoFromRow(r[0]);
    for (const auto& row : txn.exec_params(kEpochsOfJobsSql, BigintArrayLiteral({job_id}))) {
      *out.add_epochs() = EpochFromRow(row, 1);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<moe4::v1::PairStat>> PgJobStore::PairStats(int64_t campaign_id,
                                                                     double top_fraction) {
  std::vector<moe4::v1::PairStat> out;
  absl::Status s = pool_.Run("reading pair statistics", [&](pqxx::connection& conn) {
    out.clear();
    pqxx::read_transaction txn(conn);
    if (txn.exec_params("SELECT 1 FROM campaigns WHERE id = $1", campaign_id).empty()) {
      return NoCampaign(campaign_id);
    }
    // v_pair_stats fixes the top at a quartile; here the caller picks it. The
    // epsilon keeps 0.3 * 10 from rounding up to 4. Pairs compare in byte
    // order (COLLATE "C"), the order of jobs.families.
    for (const auto& row : txn.exec_params(
             "WITH r AS ("
             "  SELECT j.families, j.final_test_accuracy AS acc, "
             "    row_number() OVER (ORDER BY j.final_test_accuracy DESC, j.id) AS pos, "
             "    count(*) OVER () AS total "
             "  FROM jobs j WHERE j.campaign_id = $1 AND j.state = 'succeeded' "
             "    AND j.final_test_accuracy IS NOT NULL), "
             "t AS (SELECT r.*, greatest(1, ceil($2::float8 * total - 1e-9)) AS top_n FROM r), "
             "p AS (SELECT a.family AS fa, b.family AS fb, t.acc, t.pos <= t.top_n AS top, "
             "    t.top_n / t.total::float8 AS top_share "
             "  FROM t, unnest(t.families) AS a(family), unnest(t.families) AS b(family) "
             "  WHERE a.family < b.family COLLATE \"C\") "
             "SELECT fa, fb, count(*) AS n, count(*) FILTER (WHERE top) AS n_top, "
             "  count(*) * max(top_share) AS expected, "
             "  count(*) FILTER (WHERE top) / (count(*) * max(top_share)) AS lift, avg(acc) "
             "FROM p GROUP BY fa, fb "
             "ORDER BY lift DESC, n_top DESC, fa COLLATE \"C\", fb COLLATE \"C\"",
             campaign_id, top_fraction)) {
      moe4::v1::PairStat p;
      p.set_family_a(row[0].as<std::string>());
      p.set_family_b(row[1].as<std::string>());
      p.set_n(row[2].as<int>());
      p.set_n_top(row[3].as<int>());
      p.set_expected_top(row[4].as<double>());
      p.set_lift(row[5].as<double>());
      p.set_mean(DoubleOr(row[6]));
      out.push_back(std::move(p));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<moe4::v1::EcologyPoint>> PgJobStore::Ecology(int64_t campaign_id) {
  std::vector<moe4::v1::EcologyPoint> out;
  absl::Status s = pool_.Run("reading ecology", [&](pqxx::connection& conn) {
    out.clear();
    pqxx::read_transaction txn(conn);
    if (txn.exec_params("SELECT 1 FROM campaigns WHERE id = $1", campaign_id).empty()) {
      return NoCampaign(campaign_id);
    }
    // One definition of "the last epoch": the analysts' view.
    for (const auto& row : txn.exec_params(
             "SELECT job_id, array_to_json(families)::text, ecology, dead_experts, "
             "  final_test_accuracy FROM v_ecology "
             "WHERE campaign_id = $1 AND state = 'succeeded' ORDER BY job_id",
             campaign_id)) {
      moe4::v1::EcologyPoint p;
      p.set_job_id(row[0].as<int64_t>());
      for (auto& f : JsonTextArray(row[1])) p.add_families(std::move(f));
      p.set_ecology(row[2].as<double>());
      p.set_dead_experts(row[3].as<int>());
      p.set_final_test_accuracy(DoubleOr(row[4]));
      out.push_back(std::move(p));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> PgJobStore::CountJobsByState() {
  std::map<std::string, int64_t> out;
  absl::Status s = pool_.Run("counting jobs", [&](pqxx::connection& conn) {
    out.clear();
    pqxx::read_transaction txn(conn);
    for (const auto& row : txn.exec("SELECT state, count(*) FROM jobs GROUP BY state")) {
      out[row[0].as<std::string>()] = row[1].as<int64_t>();
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
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

absl::StatusOr<std::optional<moe4::v1::JobAssignment>> PgJobStore::LeaseJob(int64_t worker_id,
                                                                            absl::Duration lease) {
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
    const int64_t memory_mb = w[0][1].as<int64_t>();
    // The claim (kClaimJobSql): one statement.
    pqxx::result r = txn.exec_prepared(kClaimJobName,
        worker_id, device_kind, memory_mb, options_.instance_id, Seconds(lease));
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
    Event(txn, "job_leased", a.campaign_id(), a.job_id(), worker_id,
          absl::StrCat("attempt=", a.attempt(), " resume_from_epoch=", a.resume_from_epoch()));
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
    pqxx::result w = txn.exec_prepared(kHeartbeatWorkerName, req.worker_id());
    if (w.empty()) {
      return absl::NotFoundError(absl::StrCat("worker ", req.worker_id(), " is not registered"));
    }
    if (req.job_id() == 0) {
      txn.commit();
      return absl::OkStatus();
    }
    absl::StatusOr<HeldJob> held = LockJob(txn, req.job_id(), /*lock_campaign=*/false);
    if (!held.ok()) return held.status();
    const HeldJob& h = *held;
    if (SameHolder(h, req.worker_id(), req.attempt()) &&
        (h.state == "cancelled" || h.state == "failed" || h.state == "succeeded")) {
      // The coordinator ended this attempt (cancel, time budget): stop.
      out.cancel = true;
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
    // Runs `name` with epoch m as $1..$18 and `more` as $19 on.
    auto upsert = [&](const char* name, const moe4::v1::EpochMetrics& m, auto... more) {
      txn.exec_prepared(
          name, req.job_id(), m.epoch(), req.attempt(), Float8Text(m.train_loss()),
          Float8Text(m.train_accuracy()), Float8Text(m.test_loss()),
          Float8Text(m.test_accuracy()), Float8Text(m.lr()), Float8ArrayLiteral(m.gate_mean()),
          Float8ArrayLiteral(m.routing_share()), Float8ArrayLiteral(m.expert_accuracy()),
          Float8Text(m.routing_entropy()), m.dead_experts(), Float8Text(m.ecology()),
          Float8Text(m.temperature()), Float8Text(m.epoch_seconds()),
          Float8Text(m.images_per_second()), static_cast<int64_t>(m.peak_memory_bytes()),
          more...);
    };
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
      // Upsert (kUpsertEpochSql): a re-sent epoch replaces its row. The last
      // one also extends the lease and touches the worker (kReportLastEpochSql).
      if (i + 1 < req.epochs_size()) {
        upsert(kUpsertEpochName, m);
      } else {
        upsert(kReportLastEpochName, m, Seconds(lease), max_epoch, req.worker_id());
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
    if (h.state == "succeeded" && SameHolder(h, req.worker_id(), req.attempt())) {
      duplicate = true;  // the reply to an earlier Complete was lost; it took effect
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
    // The result, the end of the attempt, the worker seen and the event, in
    // one statement (kCompleteJobSql).
    txn.exec_prepared(
        kCompleteJobName, req.job_id(), Float8Text(req.final_test_accuracy()),
        Float8Text(req.best_test_accuracy()), static_cast<int64_t>(req.parameter_count()),
        Float8Text(req.train_seconds()), req.attempt(), req.worker_id(), h.campaign_id,
        absl::StrFormat("attempt=%d final=%.4f best=%.4f", req.attempt(),
                        req.final_test_accuracy(), req.best_test_accuracy()));
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
          absl::StrFormat("attempt=%d retryable=%v reason=%s", req.attempt(), req.retryable(),
                          req.reason()));
    if (!out.will_retry) MaybeFinishCampaign(txn, h.campaign_id);
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
    pqxx::result r = txn.exec_params(
        "UPDATE jobs SET lease_deadline = now() + make_interval(secs => $1::float8), "
        "  updated_at = now() "
        "WHERE state IN ('leased', 'running') "
        "  AND lease_deadline < now() + make_interval(secs => $1::float8)",
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
      spdlog::warn("campaign {} job {} attempt {}/{}: lease of worker {} expired; {}",
                   row[1].as<int64_t>(), row[0].as<int64_t>(), row[2].as<int>(),
                   row[3].as<int>(), row[5].as<int64_t>(),
                   failed ? "failed: " + row[6].as<std::string>() : std::string("requeued"));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;

  // 3. Campaigns with nothing left to run. Complete/Fail do this in their own
  //    transaction; the sweep covers jobs the steps above ended.
  s = pool_.Run("finishing campaigns", [&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    pqxx::result r = txn.exec(
        "WITH d AS (UPDATE campaigns c SET state = 'done', finished_at = now(), "
        "    updated_at = now() "
        "  WHERE c.state = 'active' AND NOT EXISTS (SELECT 1 FROM jobs j "
        "    WHERE j.campaign_id = c.id AND j.state IN ('pending', 'leased', 'running')) "
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
