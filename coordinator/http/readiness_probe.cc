#include "coordinator/http/readiness_probe.h"

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace moe4::coordinator {

std::string ReadinessProbe::WithDeadlines(const std::string& conninfo, int timeout_seconds) {
  const int s = std::max(2, timeout_seconds);
  // tcp_user_timeout bounds a query on a connection whose server vanished
  // (no RST: a partition, a frozen VM), which connect_timeout does not.
  const std::string connect = absl::StrCat("connect_timeout=", s);
  const std::string tcp = absl::StrCat("tcp_user_timeout=", s * 1000);
  const std::string statement = absl::StrCat("-c statement_timeout=", s * 1000);
  if (absl::StrContains(conninfo, "://")) {
    // A URI: parameters after '?'; "options" value percent-encoded.
    const char sep = absl::StrContains(conninfo, "?") ? '&' : '?';
    return absl::StrCat(conninfo, std::string(1, sep), connect, "&", tcp,
                        "&options=-c%20statement_timeout%3D", s * 1000);
  }
  // Later keywords override earlier ones in a key=value conninfo.
  return absl::StrCat(conninfo, " ", connect, " ", tcp, " options='", statement, "'");
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
