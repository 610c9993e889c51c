#include "tests/ctl/process.h"

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace moe4::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string TempPath(const char* what) {
  static int counter = 0;
  return std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/moe4-ctl-test-" +
         std::to_string(getpid()) + "-" + std::to_string(counter++) + "." + what;
}

extern "C" char** environ;

// argv and envp for execvpe, built before fork: the test process runs gRPC
// threads, so the child may only make async-signal-safe calls (no malloc).
struct ExecArgs {
  std::vector<std::string> argv, env;
  std::vector<char*> argv_ptrs, env_ptrs;

  ExecArgs(const std::vector<std::string>& args, const ProcessOptions& options) : argv(args) {
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    for (const auto& change : options.env) {
      const std::string name = change.substr(0, change.find('='));
      for (auto it = env.begin(); it != env.end();) {
        it = it->compare(0, name.size() + 1, name + "=") == 0 ? env.erase(it) : it + 1;
      }
      if (change.find('=') != std::string::npos) env.push_back(change);
    }
    for (auto& a : argv) argv_ptrs.push_back(a.data());
    argv_ptrs.push_back(nullptr);
    for (auto& e : env) env_ptrs.push_back(e.data());
    env_ptrs.push_back(nullptr);
  }

  [[noreturn]] void Exec() const {
    execvpe(argv_ptrs[0], argv_ptrs.data(), env_ptrs.data());
    _exit(127);
  }
};

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits up to timeout_seconds; kills the child (and returns -1) past it.
int WaitFor(pid_t pid, int timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return ExitCode(status);
    if (r < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

ProcessResult RunOnPty(const std::vector<std::string>& argv, const ProcessOptions& options) {
  ProcessResult result;
  int master = -1;
  winsize size{};
  size.ws_row = 50;
  size.ws_col = 160;
  const ExecArgs exec(argv, options);
  const pid_t pid = forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) return result;
  if (pid == 0) exec.Exec();
  // Read until the child closes the terminal (EIO), then reap it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_seconds);
  fcntl(master, F_SETFL, O_NONBLOCK);
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(master, buffer, sizeof buffer);
    if (n > 0) {
      result.out.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    break;  // EOF or EIO: the child is gone
  }
  close(master);
  result.exit_code = WaitFor(pid, 5);
  return result;
}

}  // namespace

ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (options.pty) return RunOnPty(argv, options);
  BackgroundProcess process(argv, options);
  return process.Wait(options.timeout_seconds);
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const ProcessOptions& options)
    : out_path_(TempPath("out")), err_path_(TempPath("err")) {
  const ExecArgs exec(argv, options);
  pid_ = fork();
  if (pid_ == 0) {
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    // The test runner may block signals; the program must get them.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    exec.Exec();
  }
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::remove(out_path_.c_str());
  std::remove(err_path_.c_str());
}

void BackgroundProcess::Signal(int signal) {
  if (pid_ > 0) kill(pid_, signal);
}

ProcessResult BackgroundProcess::Wait(int timeout_seconds) {
  ProcessResult result;
  if (pid_ > 0) {
    result.exit_code = WaitFor(pid_, timeout_seconds);
    pid_ = -1;
  }
  result.out = ReadFile(out_path_);
  result.err = ReadFile(err_path_);
  return result;
}

std::string BackgroundProcess::Output() const { return ReadFile(out_path_); }

}  // namespace moe4::testing
