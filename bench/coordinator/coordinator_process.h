// The real moe4-coordinator binary run as a child process, the way an operator
// runs it: its stdout and stderr go to a log file, and it is ready once it
// prints "moe4-coordinator listening on HOST:PORT" (the line scripts wait
// for). It is asked to stop with SIGTERM and killed if it does not; it also
// gets SIGTERM should the benchmark die first (PR_SET_PDEATHSIG), so a crash
// leaves no coordinator behind. Not thread-safe: one owning thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace moe4::bench {

struct CoordinatorProcessOptions {
  std::string binary;                                // path to moe4-coordinator; required
  std::vector<std::string> args;                     // its flags (argv[1..])
  std::string log_path;                              // stdout + stderr; required
  absl::Duration start_timeout = absl::Seconds(60);  // until the "listening on" line
};

class CoordinatorProcess {
 public:
  // Starts the binary and waits until it listens. The error names the binary
  // and quotes the end of its log when it exits or stays silent.
  static absl::StatusOr<std::unique_ptr<CoordinatorProcess>> Start(const CoordinatorProcessOptions& options);
  ~CoordinatorProcess();  // Stop()
  CoordinatorProcess(const CoordinatorProcess&) = delete;
  CoordinatorProcess& operator=(const CoordinatorProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }  // "127.0.0.1:PORT"
  const std::string& log_path() const { return log_path_; }

  // SIGTERM, then SIGKILL after `grace`. OK when it exited with status 0.
  // Idempotent: later calls return OK.
  absl::Status Stop(absl::Duration grace = absl::Seconds(10));

 private:
  CoordinatorProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}

  pid_t pid_ = -1;  // -1 once reaped
  std::string log_path_;
  std::string address_;
};

// The last `max_bytes` of a file (for error messages); "" when unreadable.
std::string FileTail(const std::string& path, size_t max_bytes = 2000);

}  // namespace moe4::bench
