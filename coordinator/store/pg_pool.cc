#include "coordinator/store/pg_pool.h"

#include <chrono>
#include <string_view>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "coordinator/store/pg_errors.h"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {
namespace {

std::string WithConnectTimeout(const std::string& conninfo, int seconds) {
  // A URI carries its options in the query string; leave those alone rather
  // than risk breaking them. key=value strings take one more pair.
  if (seconds <= 0 || absl::StrContains(conninfo, "://") ||
      absl::StrContains(conninfo, "connect_timeout")) {
    return conninfo;
  }
  return absl::StrCat(conninfo, " connect_timeout=", seconds);
}

}  // namespace

PgPool::PgPool(PgPoolOptions options)
    : options_(std::move(options)),
      conninfo_(WithConnectTimeout(options_.conninfo, options_.connect_timeout_seconds)) {
  const int n = options_.size < 1 ? 1 : options_.size;
  conns_.resize(n);
  defined_.assign(n, 0);
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = n - 1; i >= 0; --i) free_.push_back(i);
}

PgPool::~PgPool() = default;

absl::Status PgPool::AddPreparedStatements(const std::vector<PreparedStatement>& statements) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const PreparedStatement& p : statements) {
    bool known = false;
    for (const PreparedStatement& q : prepared_) {
      if (std::string_view(p.name) != q.name) continue;
      if (std::string_view(p.sql) != q.sql) {
        return absl::InvalidArgumentError(
            absl::StrCat("prepared statement ", p.name, " registered twice with different SQL"));
      }
      known = true;
    }
    if (!known) prepared_.push_back(p);
  }
  return absl::OkStatus();
}

int PgPool::Acquire(size_t* prepared_count) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto timeout = absl::ToChronoMilliseconds(options_.acquire_timeout);
  if (!free_cv_.wait_for(lock, timeout, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return !free_.empty();
      })) {
    return -1;
  }
  int slot = free_.back();
  free_.pop_back();
  *prepared_count = prepared_.size();
  return slot;
}

void PgPool::Release(int slot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(slot);
  }
  free_cv_.notify_one();
}

pqxx::connection& PgPool::Connect(int slot) {
  std::unique_ptr<pqxx::connection>& conn = conns_[slot];
  if (conn && conn->is_open()) return *conn;
  conn.reset();
  defined_[slot] = 0;  // a new server session has none of the prepared statements
  auto fresh = std::make_unique<pqxx::connection>(conninfo_);
  pqxx::nontransaction setup(*fresh);
  // set_config, not SET: SET takes no parameters, and no SQL is built from values.
  setup.exec_params("SELECT set_config('statement_timeout', $1, false)",
                    std::to_string(absl::ToInt64Milliseconds(options_.statement_timeout)));
  setup.exec("SET application_name = 'moe4-coordinator'");
  setup.commit();
  conn = std::move(fresh);
  return *conn;
}

void PgPool::DefinePrepared(int slot, pqxx::connection& conn, size_t prepared_count) {
  if (defined_[slot] >= prepared_count) return;  // the common case: no lock taken
  std::vector<PreparedStatement> missing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    missing.assign(prepared_.begin() + static_cast<std::ptrdiff_t>(defined_[slot]),
                   prepared_.begin() + static_cast<std::ptrdiff_t>(prepared_count));
  }
  for (const PreparedStatement& p : missing) {
    // Local bookkeeping only in libpqxx 6: the server sees the definition on
    // the statement's first exec_prepared on this connection.
    const std::string name = p.name;
    conn.prepare(name, p.sql);
  }
  defined_[slot] = prepared_count;
}

absl::Status PgPool::Run(absl::string_view what,
                         absl::FunctionRef<absl::Status(pqxx::connection&)> body) {
  size_t prepared_count = 0;
  const int slot = Acquire(&prepared_count);
  if (slot < 0) {
    return absl::UnavailableError(absl::StrCat(what, ": all ", conns_.size(),
                                               " database connections busy"));
  }
  absl::Status status;
  bool reconnected = false;
  for (int attempt = 0;; ++attempt) {
    const bool had_connection = conns_[slot] != nullptr;
    try {
      pqxx::connection& conn = Connect(slot);
      DefinePrepared(slot, conn, prepared_count);
      status = body(conn);
    } catch (const std::exception& e) {
      status = StatusFromPqxx(e, what);
      if (IsConnectionLoss(e)) {
        conns_[slot].reset();
        defined_[slot] = 0;
        // A connection that sat in the pool across a server restart fails on
        // first use; one fresh connection tells that apart from an outage.
        // An in-doubt commit is never re-run: its effect may have landed.
        if (had_connection && !reconnected &&
            dynamic_cast<const pqxx::in_doubt_error*>(&e) == nullptr) {
          reconnected = true;
          spdlog::warn("{}: database connection lost ({}); reconnecting", std::string(what),
                       std::string(status.message()));
          continue;
        }
      }
    }
    if (absl::IsAborted(status) && attempt < options_.max_retries) continue;
    break;
  }
  Release(slot);
  return status;
}

}  // namespace moe4::coordinator
