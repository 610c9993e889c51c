// PgJobStore's read-only queries: campaigns, jobs, workers and the results
// (leaderboard, family and pair statistics, ecology). Each runs in one
// read-only transaction, so what it returns is one consistent snapshot. The
// writes are in pg_job_store.cc.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/schedule.h"
#include "coordinator/store/pg_job_store.h"
#include "coordinator/scheduler/asha.h"
#include "coordinator/store/pg_rows.h"

namespace moe4::coordinator {
namespace {

using pg_rows::CampaignStateFromText;
using pg_rows::DoubleOr;
using pg_rows::Int64Or;
using pg_rows::JobStateFromText;
using pg_rows::JsonTextArray;
using pg_rows::NoCampaign;
using pg_rows::ParseCountsJson;
using pg_rows::ParseFloat8Array;
using pg_rows::Seconds;

// Runs `body` in one read-only transaction on a pooled connection and returns
// what it filled in. A body the pool runs again (a dead connection, a
// serialisation failure) starts from a fresh T, so a retry never returns the
// rows of the first try twice.
template <typename T>
absl::StatusOr<T> ReadOnly(PgPool& pool, absl::string_view what,
                           absl::FunctionRef<absl::Status(pqxx::read_transaction&, T&)> body) {
  T out;
  absl::Status s = pool.Run(what, [&](pqxx::connection& conn) {
    out = T{};
    pqxx::read_transaction txn(conn);
    return body(txn, out);
  });
  if (!s.ok()) return s;
  return out;
}

bool CampaignExists(pqxx::read_transaction& txn, int64_t campaign_id) {
  return !txn.exec_params("SELECT 1 FROM campaigns WHERE id = $1", campaign_id).empty();
}

// The rung the statistics of campaign `campaign_id` are asked for: for an
// asha campaign `rung` (default 0, every sampled combination), -1 for any
// other campaign, which has one rung (0). NOT_FOUND for an unknown
// campaign, INVALID_ARGUMENT for a rung it does not have.
absl::StatusOr<int> RungOf(pqxx::read_transaction& txn, int64_t campaign_id, std::optional<int> rung) {
  pqxx::result c =
      txn.exec_params("SELECT schedule = 'asha', cardinality(rung_epochs) FROM campaigns WHERE id = $1", campaign_id);
  if (c.empty()) return NoCampaign(campaign_id);
  const int rungs = c[0][0].as<bool>() ? c[0][1].as<int>() : 1;
  const int r = rung.value_or(0);
  if (r < 0 || r >= rungs) {
    return absl::InvalidArgumentError(absl::StrCat("rung: campaign ", campaign_id, " has ",
                                                   rungs == 1 ? "only rung 0" : absl::StrCat("rungs 0..", rungs - 1),
                                                   ", not ", r));
  }
  return c[0][0].as<bool>() ? r : -1;
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
    "       (SELECT avg(b.selected_test_accuracy) FROM jobs b "  // v_combinations' rank 1, without ranking all
    "          WHERE b.campaign_id = c.id AND b.state = 'succeeded' AND b.selected_test_accuracy IS NOT NULL "
    "          GROUP BY b.combo_rank ORDER BY moe4_ranking_accuracy(c.selection, avg(b.selected_validation_accuracy), "
    "            avg(b.selected_test_accuracy)) DESC NULLS LAST, min(b.id) LIMIT 1), "
    "       c.catalogue, c.selection, c.validation_fraction, c.replicates, c.refill, "
    "       c.schedule, c.min_epochs, c.max_epochs, c.reduction_factor, array_to_string(c.rung_epochs, ','), "
    "       count(j.id) FILTER (WHERE j.state = 'waiting'), count(j.id) FILTER (WHERE j.state = 'stopped') "
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
  s.set_catalogue(row[16].as<std::string>());
  s.set_selection(row[17].as<std::string>());
  s.set_validation_fraction(row[18].as<double>());
  s.set_replicates(row[19].as<int>());
  s.set_refill(row[20].as<bool>());
  moe4::v1::Schedule& schedule = *s.mutable_schedule();
  const bool asha = row[21].as<std::string>() == "asha";
  schedule.set_kind(asha ? moe4::v1::SCHEDULE_KIND_ASHA : moe4::v1::SCHEDULE_KIND_FULL);
  schedule.set_min_epochs(row[22].as<int>());
  schedule.set_max_epochs(row[23].as<int>());
  schedule.set_reduction_factor(row[24].as<int>());
  if (asha) schedule.set_metric(std::string(kScheduleMetric));
  for (absl::string_view e : absl::StrSplit(row[25].as<std::string>(), ',', absl::SkipEmpty())) {
    int v = 0;
    if (absl::SimpleAtoi(e, &v)) schedule.add_rung_epochs(v);
  }
  s.set_waiting(row[26].as<int>());
  s.set_stopped(row[27].as<int>());
  return s;
}

// Every epoch of the jobs in $1 (a bigint[]), in job and epoch order; the
// columns EpochFromRow reads, from column 1 on.
constexpr const char* kEpochsOfJobsSql =
    "SELECT job_id, epoch, train_loss, train_accuracy, test_loss, test_accuracy, lr, "
    "  gate_mean::text, routing_share::text, expert_accuracy::text, routing_entropy, "
    "  dead_experts, ecology, temperature, epoch_seconds, images_per_second, peak_memory_bytes, "
    "  validation_loss, validation_accuracy, "
    "  '{' || array_to_string(expert_class_accuracy, ',') || '}', array_length(expert_class_accuracy, 2), "
    "  specialisation_bits, specialisation_normalised "
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
  if (!row[c].is_null()) m.set_validation_loss(row[c].as<double>());
  ++c;
  if (!row[c].is_null()) m.set_validation_accuracy(row[c].as<double>());
  ++c;
  // The K x C table flattened row-major (array_to_string walks it in order).
  ParseFloat8Array(row[c++], m.mutable_expert_class_accuracy());
  if (!row[c].is_null()) m.set_num_classes(row[c].as<int>());
  ++c;
  if (!row[c].is_null()) m.set_specialisation_bits(row[c].as<double>());
  ++c;
  if (!row[c].is_null()) m.set_specialisation_normalised(row[c].as<double>());
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
    "  j.parameter_count, j.train_seconds, j.progress_epoch, j.progress_step, "
    "  j.selected_epoch, j.selected_validation_accuracy, j.selected_test_accuracy, j.seed::text, j.replicate, "
    "  j.rung, coalesce(j.target_epochs, c.epochs), j.skipped_images::text "
    "FROM jobs j JOIN campaigns c ON c.id = j.campaign_id "
    "LEFT JOIN workers w ON w.id = j.worker_id "
    "WHERE ($1::bigint = 0 OR j.campaign_id = $1) AND ($2::bigint = 0 OR j.id = $2) "
    "  AND ($3::text = '' OR j.state = $3) AND j.id > $4 "
    "ORDER BY j.id LIMIT $5";

// "{1,2,3}": a bigint[] parameter.
std::string BigintArrayLiteral(const std::vector<int64_t>& values) { return "{" + absl::StrJoin(values, ",") + "}"; }

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
  j.set_selected_epoch(static_cast<int32_t>(Int64Or(row[16])));
  // NaN: no validation split (or not selected yet); 0 would read as a result.
  j.set_validation_accuracy(DoubleOr(row[17], std::numeric_limits<double>::quiet_NaN()));
  j.set_selected_test_accuracy(DoubleOr(row[18]));
  uint64_t seed = 0;
  if (absl::SimpleAtoi(row[19].as<std::string>(), &seed)) j.set_seed(seed);
  j.set_replicate(row[20].as<int>());
  j.set_rung(row[21].as<int>());
  // asha: the epochs of its current rung; the whole recipe otherwise.
  j.set_epochs_total(row[22].as<int>());
  ParseCountsJson(row[23], j.mutable_skipped_images());
  return j;
}

// An asha campaign's rungs as they stand (GetResponse.rungs), and the
// epochs it will train in all (epochs_total): each rung's members times the
// epochs the rung adds, where a rung still open counts the members the rule
// will send it (floor(n / eta) of the rung below, at least one).
void ReadRungs(pqxx::read_transaction& txn, int64_t campaign_id, int jobs, moe4::v1::GetResponse& resp) {
  const moe4::v1::Schedule& schedule = resp.campaign().schedule();
  const int n = schedule.rung_epochs_size();
  if (n == 0) return;
  const int eta = std::max(2, schedule.reduction_factor());
  std::vector<RungSnapshot> snaps(static_cast<size_t>(n));
  std::vector<moe4::v1::RungStat> stats(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    stats[static_cast<size_t>(i)].set_rung(i);
    stats[static_cast<size_t>(i)].set_epochs(schedule.rung_epochs(i));
  }
  for (const auto& row : txn.exec_params(
           "SELECT rung, count(*) FILTER (WHERE state IN ('pending', 'leased', 'running')), "
           "  count(*) FILTER (WHERE state = 'waiting'), count(*) FILTER (WHERE state = 'stopped'), "
           "  count(*) FILTER (WHERE state = 'failed') "
           "FROM jobs WHERE campaign_id = $1 GROUP BY rung",
           campaign_id)) {
    const int r = row[0].as<int>();
    if (r < 0 || r >= n) continue;
    auto& st = stats[static_cast<size_t>(r)];
    st.set_training(row[1].as<int>());
    st.set_waiting(row[2].as<int>());
    st.set_stopped(row[3].as<int>());
    st.set_failed(row[4].as<int>());
    snaps[static_cast<size_t>(r)].training = st.training();
    snaps[static_cast<size_t>(r)].waiting = st.waiting();
  }
  for (const auto& row : txn.exec_params(
           "SELECT r.rung, r.job_id, coalesce(r.metric, 'NaN'::float8), r.promoted_at IS NOT NULL, "
           "  j.state = 'waiting' AND j.rung = r.rung "
           "FROM rung_results r JOIN jobs j ON j.id = r.job_id WHERE r.campaign_id = $1",
           campaign_id)) {
    const int r = row[0].as<int>();
    if (r < 0 || r >= n) continue;
    snaps[static_cast<size_t>(r)].finished.push_back(
        {row[1].as<int64_t>(), row[2].as<double>(), row[3].as<bool>(), row[4].as<bool>()});
  }
  // What the rule says now (no decision is taken here): which rungs are closed.
  const AshaDecisions now = DecideAsha(snaps, eta);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  int64_t total = 0;
  double expected = jobs;  // members expected at this rung
  for (int i = 0; i < n; ++i) {
    auto& st = stats[static_cast<size_t>(i)];
    const RungSnapshot& snap = snaps[static_cast<size_t>(i)];
    int promoted = 0;
    double best = nan;
    for (const RungMember& m : snap.finished) {
      promoted += m.promoted;
      if (!std::isnan(m.metric) && (std::isnan(best) || m.metric > best)) best = m.metric;
    }
    st.set_finished(static_cast<int>(snap.finished.size()));
    st.set_promoted(promoted);
    st.set_best(best);
    const bool closed = now.closed[static_cast<size_t>(i)];
    st.set_closed(closed);
    const bool top = i + 1 == n;
    st.set_threshold(top ? nan : PromotionThreshold(snap, eta, closed));
    const int entered = i == 0 ? jobs : stats[static_cast<size_t>(i - 1)].promoted();
    st.set_entered(entered);
    // A closed rung below has sent all it will; an open one the rule's share.
    if (i > 0) {
      const auto& below = stats[static_cast<size_t>(i - 1)];
      expected = below.closed() ? entered : std::max<double>(entered, std::max(1.0, std::floor(expected / eta)));
    }
    total += static_cast<int64_t>(std::llround(expected)) *
             (schedule.rung_epochs(i) - (i == 0 ? 0 : schedule.rung_epochs(i - 1)));
  }
  for (auto& st : stats) *resp.add_rungs() = std::move(st);
  resp.set_epochs_total(static_cast<int32_t>(std::min<int64_t>(total, std::numeric_limits<int32_t>::max())));
}

// asha's leaderboard ($1 campaign, $2 top, $3 by final test accuracy): one
// row per job with a rung result, at the highest rung it reached; ranked by
// that rung, then its validation accuracy there (or, with $3, its test
// accuracy at the rung's last epoch). A candidate stopped early never
// outranks one that trained longer.
constexpr const char* kAshaLeaderboardSql =
    "WITH b AS (SELECT DISTINCT ON (r.job_id) r.job_id, r.rung, r.epochs, r.metric, r.selected_epoch, "
    "    r.selected_test_accuracy, r.test_accuracy "
    "  FROM rung_results r WHERE r.campaign_id = $1 ORDER BY r.job_id, r.rung DESC) "
    "SELECT j.id, array_to_json(j.families)::text, j.state, b.rung, b.epochs, b.metric, b.selected_epoch, "
    "  b.selected_test_accuracy, b.test_accuracy, j.best_test_accuracy, j.train_seconds, j.parameter_count "
    "FROM b JOIN jobs j ON j.id = b.job_id "
    "ORDER BY b.rung DESC, CASE WHEN $3::bool THEN b.test_accuracy ELSE b.metric END DESC NULLS LAST, j.id "
    "LIMIT $2";

// Family statistics ($1 campaign, $2 rung): one definition, the analysts'
// views; per rung for an asha campaign ($2 >= 0), else v_family_stats ($2 = -1).
#define MOE4_FAMILY_STATS_ORDER                                                              \
  "ORDER BY validation_mean DESC NULLS LAST, "                                               \
  "  CASE WHEN validation_mean IS NULL THEN mean END DESC NULLS LAST, family"
constexpr const char* kFamilyStatsSql =
    "SELECT family, n, mean, std, ci95_low, ci95_high, best, validation_mean, final_mean, runs "
    "FROM v_family_stats WHERE campaign_id = $1 AND $2::int < 0 " MOE4_FAMILY_STATS_ORDER;
constexpr const char* kRungFamilyStatsSql =
    "SELECT family, n, mean, std, ci95_low, ci95_high, best, validation_mean, final_mean, runs "
    "FROM v_rung_family_stats WHERE campaign_id = $1 AND rung = $2 " MOE4_FAMILY_STATS_ORDER;
#undef MOE4_FAMILY_STATS_ORDER

// Pair statistics ($1 campaign, $2 top fraction, $3 rung). v_pair_stats
// fixes the top at a quartile; here the caller picks it. The unit is the
// combination (v_combinations: replicates averaged; asha: the candidates of
// rung $3 in v_rung_results, single runs), and the top is by its ranking
// accuracy (validation). The epsilon keeps 0.3 * 10 from rounding up to 4.
// Pairs compare in byte order (COLLATE "C"), the order of jobs.families.
#define MOE4_PAIR_STATS_TAIL                                                                 \
  "t AS (SELECT r.*, greatest(1, ceil($2::float8 * total - 1e-9)) AS top_n FROM r), "        \
  "p AS (SELECT a.family AS fa, b.family AS fb, t.acc, t.val, t.fin, "                        \
  "    t.pos <= t.top_n AS top, t.top_n / t.total::float8 AS top_share "                      \
  "  FROM t, unnest(t.families) AS a(family), unnest(t.families) AS b(family) "               \
  "  WHERE a.family < b.family COLLATE \"C\") "                                              \
  "SELECT fa, fb, count(*) AS n, count(*) FILTER (WHERE top) AS n_top, "                      \
  "  count(*) * max(top_share) AS expected, "                                                 \
  "  count(*) FILTER (WHERE top) / (count(*) * max(top_share)) AS lift, avg(acc), "           \
  "  avg(val), avg(fin) "                                                                     \
  "FROM p GROUP BY fa, fb "                                                                   \
  "ORDER BY lift DESC, n_top DESC, fa COLLATE \"C\", fb COLLATE \"C\""
constexpr const char* kPairStatsSql =
    "WITH r AS (SELECT x.families, x.selected_test_accuracy AS acc, "
    "    x.validation_accuracy AS val, x.final_test_accuracy AS fin, "
    "    x.rank AS pos, count(*) OVER () AS total "
    "  FROM v_combinations x WHERE x.campaign_id = $1 AND $3::int < 0), " MOE4_PAIR_STATS_TAIL;
constexpr const char* kRungPairStatsSql =
    "WITH r AS (SELECT x.families, x.selected_test_accuracy AS acc, x.validation_accuracy AS val, "
    "    x.test_accuracy AS fin, x.rank AS pos, count(*) OVER () AS total "
    "  FROM v_rung_results x WHERE x.campaign_id = $1 AND x.rung = $3), " MOE4_PAIR_STATS_TAIL;
#undef MOE4_PAIR_STATS_TAIL

}  // namespace

absl::StatusOr<std::vector<moe4::v1::CampaignSummary>> PgJobStore::ListCampaigns(int limit) {
  return ReadOnly<std::vector<moe4::v1::CampaignSummary>>(
      pool_, "listing campaigns", [&](pqxx::read_transaction& txn, auto& out) {
        for (const auto& row : txn.exec_params(kSummarySql, int64_t{0}, limit)) {
          out.push_back(SummaryFromRow(row));
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<CampaignStatus> PgJobStore::GetCampaign(int64_t campaign_id) {
  return ReadOnly<CampaignStatus>(pool_, "reading a campaign", [&](pqxx::read_transaction& txn, auto& st) {
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
    if (resp.campaign().schedule().kind() == moe4::v1::SCHEDULE_KIND_ASHA) {
      ReadRungs(txn, campaign_id, spec[1].as<int>(), resp);
    }
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
    for (const auto& row :
         txn.exec_params("SELECT device_kind, min_memory_mb, count(*) FROM jobs WHERE campaign_id = $1 "
                         "AND state = 'pending' AND not_before <= now() GROUP BY 1, 2 ORDER BY 1, 2",
                         campaign_id)) {
      st.pending_ready.push_back({row[0].as<std::string>(), row[1].as<int64_t>(), row[2].as<int>()});
    }
    for (const auto& row : txn.exec_params("SELECT device_kind, device_memory_mb FROM workers "
                                           "WHERE last_seen > now() - make_interval(secs => $1) ORDER BY id",
                                           liveness)) {
      st.live_workers.push_back({row[0].as<std::string>(), row[1].as<int64_t>()});
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<moe4::v1::LeaderboardEntry>> PgJobStore::Leaderboard(int64_t campaign_id, int top,
                                                                                bool by_final) {
  // One row per combination: its succeeded jobs (replicates) averaged. The
  // ORDER BY expression is one of two constants, never request text: the
  // ranking accuracy (validation; test at the selected epoch for a campaign
  // without a validation split) or the mean final test accuracy. Never the
  // best epoch's test accuracy: that would select on the test set.
  //
  // The inner query ranks the combinations (grouped by combo_rank alone: it
  // names the families, and a narrow sort key keeps the sort in memory);
  // only the `top` it keeps have their epochs counted. Counting every
  // job's epochs before the LIMIT, and sorting on the families too, made
  // this 620 ms on a 100,000-job campaign; it is 170 ms (bench/dashboard).
  const std::string sql = absl::StrCat(
      "SELECT t.first_id, array_to_json(t.families)::text, t.n, t.final, t.final_sd, t.best, "
      "  (SELECT min((SELECT count(*) FROM epochs e WHERE e.job_id = x)) FROM unnest(t.ids) AS x), "
      "  t.train_seconds, t.parameter_count, t.selected_epoch, t.validation, t.validation_sd, "
      "  t.selected_test, t.selected_test_sd, array_to_string(t.ids, ',') "
      "FROM (SELECT min(j.id) AS first_id, min(j.families) AS families, count(*) AS n, "
      "  avg(j.final_test_accuracy) AS final, stddev_samp(j.final_test_accuracy) AS final_sd, "
      "  avg(j.best_test_accuracy) AS best, avg(j.train_seconds) AS train_seconds, "
      "  min(j.parameter_count) AS parameter_count, "
      "  CASE WHEN count(*) = 1 THEN min(j.selected_epoch) ELSE 0 END AS selected_epoch, "
      "  avg(j.selected_validation_accuracy) AS validation, "
      "  stddev_samp(j.selected_validation_accuracy) AS validation_sd, "
      "  avg(j.selected_test_accuracy) AS selected_test, stddev_samp(j.selected_test_accuracy) AS selected_test_sd, "
      "  array_agg(j.id ORDER BY j.id) AS ids, ",
      by_final ? "avg(j.final_test_accuracy)"
               : "moe4_ranking_accuracy(min(c.selection), avg(j.selected_validation_accuracy), "
                 "avg(j.selected_test_accuracy))",
      " AS ranking "
      "  FROM jobs j JOIN campaigns c ON c.id = j.campaign_id "
      "  WHERE j.campaign_id = $1 AND j.state = 'succeeded' "
      "  GROUP BY j.combo_rank ORDER BY ranking DESC NULLS LAST, first_id LIMIT $2) t "
      "ORDER BY t.ranking DESC NULLS LAST, t.first_id");
  // asha: one row per job with a rung result, at the highest rung it
  // reached; ranked by that rung, then its validation accuracy there (or
  // with by_final its test accuracy at the rung's last epoch). A candidate
  // stopped early never outranks one that trained longer.
  return ReadOnly<std::vector<moe4::v1::LeaderboardEntry>>(
      pool_, "reading the leaderboard", [&](pqxx::read_transaction& txn, auto& out) {
        pqxx::result c = txn.exec_params("SELECT schedule = 'asha', epochs FROM campaigns WHERE id = $1", campaign_id);
        if (c.empty()) return NoCampaign(campaign_id);
        const double nan = std::numeric_limits<double>::quiet_NaN();
        if (c[0][0].as<bool>()) {
          for (const auto& row : txn.exec_params(kAshaLeaderboardSql, campaign_id, top, by_final)) {
            moe4::v1::LeaderboardEntry e;
            e.set_job_id(row[0].as<int64_t>());
            e.add_job_ids(e.job_id());
            for (auto& f : JsonTextArray(row[1])) e.add_families(std::move(f));
            e.set_state(JobStateFromText(row[2].as<std::string>()));
            e.set_n(1);
            e.set_rung(row[3].as<int>());
            e.set_rung_epochs(row[4].as<int>());
            e.set_epochs_done(e.rung_epochs());
            e.set_validation_accuracy(DoubleOr(row[5], nan));
            e.set_selected_epoch(row[6].as<int>());
            e.set_selected_test_accuracy(DoubleOr(row[7]));
            e.set_final_test_accuracy(DoubleOr(row[8]));
            e.set_best_test_accuracy(DoubleOr(row[9]));
            e.set_train_seconds(DoubleOr(row[10]));
            e.set_parameter_count(Int64Or(row[11]));
            e.set_validation_accuracy_sd(nan);
            e.set_selected_test_accuracy_sd(nan);
            e.set_final_test_accuracy_sd(nan);
            out.push_back(std::move(e));
          }
          return absl::OkStatus();
        }
        for (const auto& row : txn.exec_params(sql, campaign_id, top)) {
          moe4::v1::LeaderboardEntry e;
          e.set_job_id(row[0].as<int64_t>());
          for (auto& f : JsonTextArray(row[1])) e.add_families(std::move(f));
          e.set_state(moe4::v1::JOB_STATE_SUCCEEDED);
          e.set_n(row[2].as<int>());
          e.set_final_test_accuracy(DoubleOr(row[3]));
          e.set_final_test_accuracy_sd(DoubleOr(row[4], nan));
          e.set_best_test_accuracy(DoubleOr(row[5]));
          e.set_epochs_done(row[6].as<int>());
          e.set_train_seconds(DoubleOr(row[7]));
          e.set_parameter_count(Int64Or(row[8]));
          e.set_selected_epoch(static_cast<int32_t>(Int64Or(row[9])));
          e.set_validation_accuracy(DoubleOr(row[10], nan));
          e.set_validation_accuracy_sd(DoubleOr(row[11], nan));
          e.set_selected_test_accuracy(DoubleOr(row[12]));
          e.set_selected_test_accuracy_sd(DoubleOr(row[13], nan));
          for (absl::string_view id : absl::StrSplit(row[14].as<std::string>(), ',')) {
            int64_t v = 0;
            if (absl::SimpleAtoi(id, &v)) e.add_job_ids(v);
          }
          e.set_rung_epochs(c[0][1].as<int>());
          out.push_back(std::move(e));
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<moe4::v1::FamilyStat>> PgJobStore::FamilyStats(int64_t campaign_id,
                                                                         std::optional<int> rung) {
  return ReadOnly<std::vector<moe4::v1::FamilyStat>>(
      pool_, "reading family statistics", [&](pqxx::read_transaction& txn, auto& out) {
        absl::StatusOr<int> asha_rung = RungOf(txn, campaign_id, rung);
        if (!asha_rung.ok()) return asha_rung.status();
        // One definition of the statistics: the analysts' views (asha: per
        // rung; rung 0 is what v_family_stats gives for it).
        const bool per_rung = *asha_rung >= 0;
        for (const auto& row :
             txn.exec_params(per_rung ? kRungFamilyStatsSql : kFamilyStatsSql, campaign_id, *asha_rung)) {
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
          f.set_validation_mean(DoubleOr(row[7], nan));
          f.set_final_mean(DoubleOr(row[8]));
          f.set_runs(static_cast<int32_t>(Int64Or(row[9])));
          out.push_back(std::move(f));
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<CampaignCandidates> PgJobStore::Candidates(int64_t campaign_id) {
  return ReadOnly<CampaignCandidates>(pool_, "reading candidates", [&](pqxx::read_transaction& txn, auto& out) {
    pqxx::result c = txn.exec_params(
        "SELECT k, array_to_json(pool)::text, refill, refills FROM campaigns WHERE id = $1", campaign_id);
    if (c.empty()) return NoCampaign(campaign_id);
    out.k = c[0][0].as<int>();
    out.pool = JsonTextArray(c[0][1]);
    out.refill = c[0][2].as<bool>();
    out.refills = c[0][3].as<int>();
    // One row per combination (its replicates together), in planning order.
    for (const auto& row : txn.exec_params(
             "SELECT array_to_json(families)::text, bool_or(state = 'succeeded'), bool_and(state = 'failed'), "
             "  (array_agg(error ORDER BY id) FILTER (WHERE state = 'failed'))[1] "
             "FROM jobs WHERE campaign_id = $1 GROUP BY combo_rank, families ORDER BY min(id)",
             campaign_id)) {
      out.families.push_back(JsonTextArray(row[0]));
      CandidateOutcome outcome;
      outcome.evaluated = row[1].as<bool>();
      outcome.failed = row[2].as<bool>();
      if (outcome.failed && !row[3].is_null()) outcome.reason = row[3].as<std::string>();
      out.outcomes.push_back(std::move(outcome));
    }
    return absl::OkStatus();
  });
}

namespace {

// $1: liveness in seconds; $2: ids above this; $3: at most this many; $4:
// order by id (else by name).
constexpr const char* kWorkersSql =
    "SELECT w.id, w.name, w.device_kind, w.device_name, w.device_memory_mb, "
    "  (SELECT j.id FROM jobs j WHERE j.worker_id = w.id "
    "     AND j.state IN ('leased', 'running') ORDER BY j.id LIMIT 1), "
    "  (extract(epoch FROM w.last_seen) * 1000)::bigint, "
    "  w.last_seen > now() - make_interval(secs => $1) "
    "FROM workers w WHERE w.id > $2 "
    "ORDER BY CASE WHEN $4 THEN w.id END, w.name LIMIT $3";

moe4::v1::WorkerInfo WorkerFromRow(const pqxx::row& row) {
  moe4::v1::WorkerInfo w;
  w.set_worker_id(row[0].as<int64_t>());
  w.set_name(row[1].as<std::string>());
  w.set_device_kind(row[2].as<std::string>());
  w.set_device_name(row[3].as<std::string>());
  w.set_device_memory_mb(row[4].as<int64_t>());
  w.set_current_job_id(Int64Or(row[5]));
  w.set_last_heartbeat_unix_ms(row[6].as<int64_t>());
  w.set_alive(row[7].as<bool>());
  return w;
}

}  // namespace

absl::StatusOr<std::vector<moe4::v1::WorkerInfo>> PgJobStore::ListWorkers() {
  return ListWorkersPage(0, std::numeric_limits<int>::max(), false);
}

absl::StatusOr<std::vector<moe4::v1::WorkerInfo>> PgJobStore::ListWorkersById(int64_t after_id, int limit) {
  return ListWorkersPage(after_id, limit, true);
}

absl::StatusOr<std::vector<moe4::v1::WorkerInfo>> PgJobStore::ListWorkersPage(int64_t after_id, int limit,
                                                                              bool by_id) {
  return ReadOnly<std::vector<moe4::v1::WorkerInfo>>(
      pool_, "listing workers", [&](pqxx::read_transaction& txn, auto& out) {
        for (const auto& row :
             txn.exec_params(kWorkersSql, Seconds(options_.worker_liveness), after_id, limit, by_id)) {
          out.push_back(WorkerFromRow(row));
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<int64_t>> PgJobStore::ObsoleteJobs(const std::vector<int64_t>& job_ids) {
  return ReadOnly<std::vector<int64_t>>(pool_, "finding obsolete jobs", [&](pqxx::read_transaction& txn, auto& out) {
    // A job that may run again keeps its checkpoint; everything else, the
    // unknown included, is obsolete.
    for (const auto& row : txn.exec_params(
             "SELECT DISTINCT x FROM unnest($1::bigint[]) AS x "
             "WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = x "
             "  AND j.state IN ('pending', 'leased', 'running', 'waiting')) "
             "ORDER BY x",
             BigintArrayLiteral(job_ids))) {
      out.push_back(row[0].as<int64_t>());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<moe4::v1::JobInfo>> PgJobStore::ListJobs(const JobQuery& query) {
  return ReadOnly<std::vector<moe4::v1::JobInfo>>(pool_, "listing jobs", [&](pqxx::read_transaction& txn, auto& out) {
    if (!CampaignExists(txn, query.campaign_id)) return NoCampaign(query.campaign_id);
    std::map<int64_t, size_t> index;  // job id -> position in out
    std::vector<int64_t> ids;
    for (const auto& row :
         txn.exec_params(kJobsSql, query.campaign_id, int64_t{0}, query.state, query.after_job_id, query.limit)) {
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
}

absl::StatusOr<moe4::v1::GetJobResponse> PgJobStore::GetJob(int64_t job_id) {
  return ReadOnly<moe4::v1::GetJobResponse>(pool_, "reading a job", [&](pqxx::read_transaction& txn, auto& out) {
    pqxx::result r = txn.exec_params(kJobsSql, int64_t{0}, job_id, std::string(), int64_t{0}, 1);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("job ", job_id, " does not exist"));
    *out.mutable_job() = JobInfoFromRow(r[0]);
    for (const auto& row : txn.exec_params(kEpochsOfJobsSql, BigintArrayLiteral({job_id}))) {
      *out.add_epochs() = EpochFromRow(row, 1);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<moe4::v1::PairStat>> PgJobStore::PairStats(int64_t campaign_id, double top_fraction,
                                                                     std::optional<int> rung) {
  return ReadOnly<std::vector<moe4::v1::PairStat>>(
      pool_, "reading pair statistics", [&](pqxx::read_transaction& txn, auto& out) {
        absl::StatusOr<int> asha_rung = RungOf(txn, campaign_id, rung);
        if (!asha_rung.ok()) return asha_rung.status();
        // asha: the candidates of one rung (v_rung_results; rung 0 = every
        // sampled combination), each a single run.
        const bool per_rung = *asha_rung >= 0;
        for (const auto& row : txn.exec_params(per_rung ? kRungPairStatsSql : kPairStatsSql, campaign_id,
                                               top_fraction, *asha_rung)) {
          moe4::v1::PairStat p;
          p.set_family_a(row[0].as<std::string>());
          p.set_family_b(row[1].as<std::string>());
          p.set_n(row[2].as<int>());
          p.set_n_top(row[3].as<int>());
          p.set_expected_top(row[4].as<double>());
          p.set_lift(row[5].as<double>());
          p.set_mean(DoubleOr(row[6]));
          p.set_validation_mean(DoubleOr(row[7], std::numeric_limits<double>::quiet_NaN()));
          p.set_final_mean(DoubleOr(row[8]));
          out.push_back(std::move(p));
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<moe4::v1::EcologyPoint>> PgJobStore::Ecology(int64_t campaign_id) {
  return ReadOnly<std::vector<moe4::v1::EcologyPoint>>(
      pool_, "reading ecology", [&](pqxx::read_transaction& txn, auto& out) {
        if (!CampaignExists(txn, campaign_id)) return NoCampaign(campaign_id);
        // One definition of "the last epoch": the analysts' view.
        for (const auto& row : txn.exec_params("SELECT job_id, array_to_json(families)::text, ecology, dead_experts, "
                                               "  final_test_accuracy, ecology_learned, ecology_undefined, "
                                               "  specialisation_bits, specialisation_normalised "
                                               "FROM v_ecology "
                                               "WHERE campaign_id = $1 AND state = 'succeeded' ORDER BY job_id",
                                               campaign_id)) {
          moe4::v1::EcologyPoint p;
          p.set_job_id(row[0].as<int64_t>());
          for (auto& f : JsonTextArray(row[1])) p.add_families(std::move(f));
          // NULL: undefined (0/0); the reason says so. +inf reads as itself.
          const double nan = std::numeric_limits<double>::quiet_NaN();
          p.set_ecology(DoubleOr(row[2], nan));
          p.set_dead_experts(row[3].as<int>());
          p.set_final_test_accuracy(DoubleOr(row[4]));
          p.set_ecology_learned(DoubleOr(row[5], nan));
          if (!row[6].is_null()) p.set_ecology_undefined(row[6].as<std::string>());
          // NULL: not measured (a worker older than the figure).
          p.set_specialisation_bits(DoubleOr(row[7], nan));
          p.set_specialisation_normalised(DoubleOr(row[8], nan));
          out.push_back(std::move(p));
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<std::map<std::string, int64_t>> PgJobStore::CountJobsByState() {
  return ReadOnly<std::map<std::string, int64_t>>(pool_, "counting jobs", [&](pqxx::read_transaction& txn, auto& out) {
    for (const auto& row : txn.exec("SELECT state, count(*) FROM jobs GROUP BY state")) {
      out[row[0].as<std::string>()] = row[1].as<int64_t>();
    }
    return absl::OkStatus();
  });
}

}  // namespace moe4::coordinator
