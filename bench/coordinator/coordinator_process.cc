#include "bench/coordinator/coordinator_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace moe4::bench {
namespace {

constexpr char kReadyLine[] = "moe4-coordinator listening on ";

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("was killed by signal ", WTERMSIG(status));
  return "ended";
}

// The address from the ready line, or "" while it has not been printed.
std::string ReadyAddress(const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line;
  while (std::getline(in, line)) {
    const size_t at = line.find(kReadyLine);
    if (at != std::string::npos) return line.substr(at + sizeof(kReadyLine) - 1);
  }
  return "";
}

}  // namespace

std::string FileTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  return text.size() <= max_bytes ? text : "..." + text.substr(text.size() - max_bytes);
}

absl::StatusOr<std::unique_ptr<CoordinatorProcess>> CoordinatorProcess::Start(
    const CoordinatorProcessOptions& options) {
  if (access(options.binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("coordinator binary ", options.binary, ": ", std::strerror(errno)));
  }
  const int log_fd = open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create coordinator log ", options.log_path, ": ", std::strerror(errno)));
  }
  std::vector<std::string> argv_storage{options.binary};
  argv_storage.insert(argv_storage.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // the benchmark died before prctl took effect
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  std::unique_ptr<CoordinatorProcess> process(new CoordinatorProcess(pid, options.log_path));

  const absl::Time deadline = absl::Now() + options.start_timeout;
  while (true) {
    process->address_ = ReadyAddress(options.log_path);
    if (!process->address_.empty()) return process;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      process->pid_ = -1;
      return absl::UnavailableError(absl::StrCat("coordinator ", options.binary, " ", DescribeExit(status),
                                                 " before listening; its log (", options.log_path, ") ends:\n",
                                                 FileTail(options.log_path)));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("coordinator ", options.binary, " did not print \"", kReadyLine,
                                                      "...\" within ", absl::FormatDuration(options.start_timeout),
                                                      "; its log ends:\n", FileTail(options.log_path)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

CoordinatorProcess::~CoordinatorProcess() { Stop().IgnoreError(); }

absl::Status CoordinatorProcess::Stop(absl::Duration grace) {
  if (pid_ < 0) return absl::OkStatus();
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
      return absl::DeadlineExceededError(
          absl::StrCat("coordinator did not stop within ", absl::FormatDuration(grace), " of SIGTERM and was killed"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("coordinator ", DescribeExit(status), "; see ", log_path_));
}

}  // namespace moe4::bench
