#include "coordinator/http/readiness_probe.h"

#include <pqxx/pqxx>

#include "coordinator/store/pg_conninfo.h"

namespace moe4::coordinator {

std::string ReadinessProbe::WithDeadlines(const std::string& conninfo, int timeout_seconds) {
  return ConninfoWithDeadlines(conninfo, timeout_seconds);
}

ReadinessProbe::ReadinessProbe(ReadinessProbeOptions options)
    : options_(std::move(options)), conninfo_(WithDeadlines(options_.conninfo, options_.timeout_seconds)) {}

ReadinessProbe::~ReadinessProbe() = default;

absl::Status ReadinessProbe::Check() {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = absl::Now();
  if (now - last_ < options_.min_interval) return last_status_;
  absl::Status s;
  try {
    if (!conn_ || !conn_->is_open()) conn_ = std::make_unique<pqxx::connection>(conninfo_);
    pqxx::nontransaction txn(*conn_);
    txn.exec("SELECT 1");
  } catch (const std::exception& e) {
    conn_.reset();  // a fresh connection next time
    std::string why = e.what();
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    s = absl::UnavailableError(why);
  }
  last_ = absl::Now();
  last_status_ = s;
  return s;
}

}  // namespace moe4::coordinator
