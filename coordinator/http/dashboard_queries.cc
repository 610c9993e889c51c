#include "coordinator/http/dashboard_queries.h"

#include <pqxx/pqxx>

#include "absl/strings/str_join.h"

namespace moe4::coordinator {
namespace {

template <typename T, typename F>
absl::StatusOr<T> Read(PgPool& pool, absl::string_view what, F body) {
  T out;
  absl::Status s = pool.Run(what, [&](pqxx::connection& conn) {
    out = T{};
    pqxx::read_transaction txn(conn);
    body(txn, out);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

int64_t MsOr0(const pqxx::field& f) { return f.is_null() ? 0 : f.as<int64_t>(); }
std::string TextOr(const pqxx::field& f) { return f.is_null() ? std::string() : f.as<std::string>(); }

}  // namespace

absl::StatusOr<std::vector<AttemptRow>> DashboardQueries::Attempts(int64_t job_id) {
  return Read<std::vector<AttemptRow>>(pool_, "reading attempts", [&](pqxx::read_transaction& txn, auto& out) {
    for (const auto& row : txn.exec_params(
             "SELECT a.attempt, w.name, (extract(epoch FROM a.started_at) * 1000)::bigint, "
             "  (extract(epoch FROM a.ended_at) * 1000)::bigint, a.outcome, a.reason "
             "FROM attempts a LEFT JOIN workers w ON w.id = a.worker_id "
             "WHERE a.job_id = $1 ORDER BY a.attempt LIMIT 1000",
             job_id)) {
      AttemptRow a;
      a.attempt = row[0].as<int>();
      a.worker = TextOr(row[1]);
      a.started_unix_ms = MsOr0(row[2]);
      a.ended_unix_ms = MsOr0(row[3]);
      a.outcome = TextOr(row[4]);
      a.reason = TextOr(row[5]);
      out.push_back(std::move(a));
    }
  });
}

absl::StatusOr<std::vector<WorkerTotals>> DashboardQueries::WorkerTotalsOf(const std::vector<int64_t>& worker_ids) {
  if (worker_ids.empty()) return std::vector<WorkerTotals>{};
  return Read<std::vector<WorkerTotals>>(pool_, "reading worker totals", [&](pqxx::read_transaction& txn, auto& out) {
    // Per worker: one row of worker_totals (kept by a trigger, migration
    // 017) and index lookups (migration 015), so a page costs its size and
    // not its workers' history.
    for (const auto& row : txn.exec_params(
             "SELECT w.id, w.threads, w.version, coalesce(t.succeeded, 0), coalesce(t.failed, 0), "
             "  (SELECT e.images_per_second FROM epochs e WHERE e.job_id = "
             "     (SELECT j.id FROM jobs j WHERE j.worker_id = w.id ORDER BY j.updated_at DESC LIMIT 1) "
             "   ORDER BY e.epoch DESC LIMIT 1) "
             "FROM workers w LEFT JOIN worker_totals t ON t.worker_id = w.id "
             "WHERE w.id = ANY($1::bigint[]) ORDER BY w.id",
             "{" + absl::StrJoin(worker_ids, ",") + "}")) {
      WorkerTotals t;
      t.worker_id = row[0].as<int64_t>();
      t.threads = row[1].as<int>();
      t.version = row[2].as<std::string>();
      t.succeeded = row[3].as<int64_t>();
      t.failed = row[4].as<int64_t>();
      t.images_per_second = row[5].is_null() ? 0 : row[5].as<double>();
      out.push_back(std::move(t));
    }
  });
}

absl::StatusOr<std::vector<EventRow>> DashboardQueries::CampaignEvents(int64_t campaign_id, int limit) {
  return Read<std::vector<EventRow>>(pool_, "reading events", [&](pqxx::read_transaction& txn, auto& out) {
    for (const auto& row : txn.exec_params(
             "SELECT id, (extract(epoch FROM at) * 1000)::bigint, kind, job_id, worker_id, detail "
             "FROM events WHERE campaign_id = $1 ORDER BY id DESC LIMIT $2",
             campaign_id, limit)) {
      EventRow e;
      e.id = row[0].as<int64_t>();
      e.at_unix_ms = row[1].as<int64_t>();
      e.kind = row[2].as<std::string>();
      e.job_id = MsOr0(row[3]);
      e.worker_id = MsOr0(row[4]);
      e.detail = row[5].as<std::string>();
      out.push_back(std::move(e));
    }
  });
}

absl::StatusOr<int64_t> DashboardQueries::CampaignsFrom(int64_t id) {
  return Read<int64_t>(pool_, "counting campaigns", [&](pqxx::read_transaction& txn, int64_t& out) {
    out = txn.exec_params1("SELECT count(*) FROM campaigns WHERE id >= $1", id)[0].as<int64_t>();
  });
}

absl::StatusOr<std::string> DashboardQueries::Fingerprint() {
  return Read<std::string>(pool_, "reading the change fingerprint", [&](pqxx::read_transaction& txn, std::string& out) {
    out = txn.exec1(
               "SELECT concat_ws('/', (SELECT max(updated_at) FROM jobs), "
               "  (SELECT max(updated_at) FROM campaigns), (SELECT max(last_seen) FROM workers), "
               "  (SELECT max(id) FROM events), (SELECT count(*) FROM campaigns))")[0]
              .as<std::string>();
  });
}

}  // namespace moe4::coordinator
