// A fixed-size pool of libpqxx connections.
//
// Connections are opened lazily and re-opened after a failure, so the pool
// rides out a Postgres restart: calls made while the server is down return
// UNAVAILABLE and the first call after it is back reconnects. Safe for
// concurrent use; each connection is used by one caller at a time.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <pqxx/connection>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"


namespace moe4::coordinator {

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

 private:
  // Index of a free slot, or -1 after acquire_timeout.
  int Acquire();
  void Release(int slot);
  // Opens the slot's connection when it has none; throws on failure.
  pqxx::connection& Connect(int slot);

  const PgPoolOptions options_;
  const std::string conninfo_;  // options_.conninfo plus connect_timeout

  std::mutex mu_;
  std::condition_variable free_cv_;
  std::vector<int> free_ ABSL_GUARDED_BY(mu_);
  // A slot's connection is touched only by the caller holding the slot.
  std::vector<std::unique_ptr<pqxx::connection>> conns_;
};

}  // namespace moe4::coordinator
