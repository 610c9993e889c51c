#include "bench/coordinator/epoch_audit.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace moe4::bench {

std::string EpochAudit::Problems(int64_t client_trials, int epochs) const {
  std::vector<std::string> p;
  if (succeeded != client_trials) {
    p.push_back(absl::StrCat(succeeded, " jobs succeeded in the database but the workers completed ", client_trials));
  }
  if (succeeded_full != succeeded) {
    p.push_back(absl::StrCat(succeeded - succeeded_full, " succeeded jobs lack epochs 1..", epochs));
  }
  if (epoch_rows != succeeded * epochs) {
    p.push_back(absl::StrCat(epoch_rows, " epoch rows stored, expected ", succeeded * epochs));
  }
  if (held != 0) p.push_back(absl::StrCat(held, " jobs are still leased or running"));
  return absl::StrJoin(p, "; ");
}

absl::StatusOr<EpochAudit> AuditEpochs(const std::string& conninfo, int64_t campaign_id, int epochs) {
  EpochAudit a;
  try {
    pqxx::connection conn(conninfo);
    pqxx::read_transaction txn(conn);
    pqxx::row jobs = txn.exec_params1(
        "SELECT count(*) FILTER (WHERE state = 'succeeded'), "
        "       count(*) FILTER (WHERE state IN ('leased', 'running')) "
        "FROM jobs WHERE campaign_id = $1",
        campaign_id);
    a.succeeded = jobs[0].as<int64_t>();
    a.held = jobs[1].as<int64_t>();
    // A curve is full when it has `epochs` distinct epochs, the first 1 and
    // the last `epochs`: exactly 1..epochs.
    pqxx::row curves = txn.exec_params1(
        "SELECT count(*) FILTER (WHERE n = $2 AND distinct_n = $2 AND lo = 1 AND hi = $2), "
        "       count(*) FILTER (WHERE n = $2 AND distinct_n = $2 AND lo = 1 AND hi = $2 "
        "                          AND state = 'succeeded'), "
        "       coalesce(sum(n), 0) "
        "FROM (SELECT j.state, count(*) AS n, count(DISTINCT e.epoch) AS distinct_n, "
        "             min(e.epoch) AS lo, max(e.epoch) AS hi "
        "      FROM epochs e JOIN jobs j ON j.id = e.job_id "
        "      WHERE j.campaign_id = $1 GROUP BY j.id, j.state) t",
        campaign_id, epochs);
    a.full_curves = curves[0].as<int64_t>();
    a.succeeded_full = curves[1].as<int64_t>();
    a.epoch_rows = curves[2].as<int64_t>();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("auditing campaign ", campaign_id, ": ", e.what()));
  }
  return a;
}

}  // namespace moe4::bench
