// Runs a program the way a user's shell would, for tests of command-line
// tools: argv, extra environment, optionally on a pseudo-terminal, with a
// timeout; collects exit code and output. Not thread-safe; one call at a time
// per object.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace moe4::testing {

struct ProcessResult {
  int exit_code = -1;   // 128 + signal when killed by one; -1 when it timed out
  std::string out;      // stdout (with a pty: stdout and stderr together)
  std::string err;      // stderr (empty with a pty)
};

struct ProcessOptions {
  // "NAME=value" sets, "NAME" unsets, applied over this process's environment.
  std::vector<std::string> env;
  bool pty = false;       // stdout/stderr on a pseudo-terminal (isatty() true)
  int timeout_seconds = 60;
};

ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A process left running while the test does other things (e.g. `watch`).
// Output goes to files; the destructor kills it if it is still running.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  void Signal(int signal);
  // Waits for exit; the ProcessResult as RunProcess gives it (-1 on timeout).
  ProcessResult Wait(int timeout_seconds);
  // Its stdout so far.
  std::string Output() const;

 private:
  pid_t pid_ = -1;
  std::string out_path_, err_path_;
};

}  // namespace moe4::testing
