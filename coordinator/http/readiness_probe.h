// ReadinessProbe: "can this coordinator reach its database right now?", for
// /readyz, asked on a connection of its own (never the shared pool, whose
// connections may all be busy or waiting) with a short deadline on every step,
// so a probe answers within about `timeout` even when the server is down or
// unreachable. Answers at most once per `min_interval`; callers in between get
// the last answer. Safe for concurrent use (one probe at a time).
#pragma once

#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace moe4::coordinator {

struct ReadinessProbeOptions {
  std::string conninfo;                                   // libpq conninfo or URI; required
  int timeout_seconds = 2;                                // connect, statement and TCP deadline (libpq's minimum is 2)
  absl::Duration min_interval = absl::Milliseconds(500);  // reuse an answer younger than this
};

class ReadinessProbe {
 public:
  explicit ReadinessProbe(ReadinessProbeOptions options);
  ~ReadinessProbe();
  ReadinessProbe(const ReadinessProbe&) = delete;
  ReadinessProbe& operator=(const ReadinessProbe&) = delete;

  // OK when `SELECT 1` answered; UNAVAILABLE with libpq's reason otherwise.
  absl::Status Check();

  // The conninfo with the probe's deadlines added (exposed for tests).
  static std::string WithDeadlines(const std::string& conninfo, int timeout_seconds);

 private:
  const ReadinessProbeOptions options_;
  const std::string conninfo_;
  std::mutex mu_;
  std::unique_ptr<pqxx::connection> conn_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status last_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace moe4::coordinator
