// A fresh PostgreSQL database for one benchmark run, created from a
// superuser connection (libpq conninfo or URI, e.g. MOE4_PG_URL) and dropped
// again (WITH (FORCE)) when the object goes, so runs never see each other's
// rows or bloat. Not thread-safe: one owning thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace moe4::bench {

// `conninfo` (key=value or postgresql:// URI) pointing at database `dbname`
// instead, as key=value conninfo. INVALID_ARGUMENT when it does not parse.
absl::StatusOr<std::string> ConninfoWithDatabase(const std::string& conninfo, const std::string& dbname);

class ScratchDatabase {
 public:
  // Creates database `name` (dropping a leftover of the same name first).
  static absl::StatusOr<std::unique_ptr<ScratchDatabase>> Create(const std::string& admin_url, const std::string& name);
  ~ScratchDatabase();  // Drop(), errors reported on stderr
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }  // conninfo of the new database

  // Drops it, disconnecting whoever is still connected. Idempotent.
  absl::Status Drop();
  // Leave it in place (for a look with psql after the run).
  void Keep() { dropped_ = true; }

 private:
  ScratchDatabase(std::string admin_url, std::string name, std::string url)
      : admin_url_(std::move(admin_url)), name_(std::move(name)), url_(std::move(url)) {}

  std::string admin_url_, name_, url_;
  bool dropped_ = false;
};

// ANALYZE the whole database: the planner statistics autovacuum would gather
// within its first minute (autovacuum_naptime) after a campaign's jobs are
// inserted. Without them the claim query scans and sorts every pending job.
absl::Status Analyze(const std::string& conninfo);

// The PID of the PostgreSQL postmaster behind `conninfo` when it runs on this
// machine (read through a backend's parent), for charging it CPU; nullopt for
// a remote server or when /proc does not show it.
std::optional<pid_t> LocalServerPid(const std::string& conninfo);

}  // namespace moe4::bench
