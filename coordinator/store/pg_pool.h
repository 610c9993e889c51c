// A fixed-size pool of libpqxx connections.
//
// Connections are opened lazily and re-opened after a failure, so the pool
// rides out a Postgres restart: calls made while the server is down return
// UNAVAILABLE and the first call after it is back reconnects. Safe for
// concurrent use; each connection is used by one caller at a time.
//
// Prepared statements: AddPreparedStatements registers (name, SQL) pairs that
// every pooled connection defines before a body runs on it. A prepared
// statement lives in one server session, so a connection re-opened after a
// restart defines them again. libpqxx 6 sends a definition to the server only
// on the statement's first use on that connection, so defining is free until
// then.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/connection>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace moe4::coordinator {

// A statement every pooled connection prepares: run it with
// txn.exec_prepared(name, ...). `sql` is a constant with $n parameters.
struct PreparedStatement {
  const char* name;
  const char* sql;
};

struct PgPoolOptions {
  std::string conninfo;                                 // libpq conninfo or URI; required
  int size = 8;                                         // connections, >= 1
  absl::Duration acquire_timeout = absl::Seconds(10);   // wait for a free connection
  absl::Duration statement_timeout = absl::Seconds(30); // per statement, server side
  int connect_timeout_seconds = 5;                      // added to key=value conninfo
  int max_retries = 3;  // re-runs of a body that hit a deadlock/serialization failure
};

class PgPool {
 public:
  explicit PgPool(PgPoolOptions options);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs `body` with a connection. `body` opens and commits its own
  // transaction and may be run more than once: again after a deadlock or
  // serialization failure, and once more on a fresh connection when a pooled
  // connection turns out to be dead (the server restarted since it was used).
  // libpqxx exceptions become statuses (see pg_errors.h), prefixed by `what`.
  absl::Status Run(absl::string_view what, absl::FunctionRef<absl::Status(pqxx::connection&)> body);

  const PgPoolOptions& options() const { return options_; }

  // Makes every connection, open now or later, define `statements` before
  // its next body runs. A name already registered with the same SQL is
  // skipped (two stores may share a pool); one with other SQL is an error.
  // Thread-safe; the pointers must stay valid for the pool's life (string
  // literals).
  absl::Status AddPreparedStatements(const std::vector<PreparedStatement>& statements);

 private:
  // Index of a free slot, or -1 after acquire_timeout.
  // Also reports how many prepared statements are registered now.
  int Acquire(size_t* prepared_count);
  void Release(int slot);
  // Opens the slot's connection when it has none; throws on failure.
  pqxx::connection& Connect(int slot);
  // Defines on the slot's connection the statements registered since it last
  // did (all of them for a fresh connection).
  void DefinePrepared(int slot, pqxx::connection& conn, size_t prepared_count);

  const PgPoolOptions options_;
  const std::string conninfo_;  // options_.conninfo plus connect_timeout

  std::mutex mu_;
  std::condition_variable free_cv_;
  std::vector<int> free_ ABSL_GUARDED_BY(mu_);
  // Append-only, so a slot's count below says which entries it still lacks.
  std::vector<PreparedStatement> prepared_ ABSL_GUARDED_BY(mu_);
  // A slot's connection is touched only by the caller holding the slot.
  std::vector<std::unique_ptr<pqxx::connection>> conns_;
  // How many of prepared_ the slot's connection has defined; like conns_,
  // touched only by the caller holding the slot, and 0 for a new connection.
  std::vector<size_t> defined_;
};

}  // namespace moe4::coordinator
