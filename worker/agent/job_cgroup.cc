// Per-job memory cgroups: see job_cgroup.h.
#include "worker/agent/job_cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace moe4::worker {
namespace {

namespace fs = std::filesystem;

// Cgroup files take one write(2) each; the kernel's errno is the message.
absl::Status WriteFile(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int error = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return absl::UnavailableError(absl::StrCat("cannot write '", text, "' to ", path, ": ", std::strerror(error)));
  }
  return absl::OkStatus();
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The value of `key` in a flat-keyed file ("oom_kill 3" lines).
std::optional<int64_t> KeyedValue(const std::string& path, absl::string_view key) {
  auto text = ReadFile(path);
  if (!text) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t value = 0;
    if (words.size() == 2 && words[0] == key && absl::SimpleAtoi(words[1], &value)) return value;
  }
  return std::nullopt;
}

std::optional<int64_t> NumberIn(const std::string& path) {
  auto text = ReadFile(path);
  int64_t value = 0;
  if (text && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &value)) return value;
  return std::nullopt;
}

bool HasWord(const std::string& text, absl::string_view word) {
  for (absl::string_view w : absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    if (w == word) return true;
  }
  return false;
}

std::vector<std::string> Processes(const std::string& cgroup) {
  std::vector<std::string> pids;
  if (auto text = ReadFile(cgroup + "/cgroup.procs")) {
    for (absl::string_view pid : absl::StrSplit(*text, '\n', absl::SkipEmpty())) pids.emplace_back(pid);
  }
  return pids;
}

// v2: the memory controller for DIR's children. A cgroup that holds
// processes cannot hand controllers down ("no internal processes"), so when
// the daemon runs in DIR itself (systemd's Delegate=yes on the unit) it and
// whatever shares DIR move to DIR/daemon first.
absl::Status EnableMemoryForChildren(const std::string& dir) {
  const std::string control = dir + "/cgroup.subtree_control";
  if (auto enabled = ReadFile(control); enabled && HasWord(*enabled, "memory")) return absl::OkStatus();
  absl::Status status = WriteFile(control, "+memory");
  if (status.ok() || Processes(dir).empty()) return status;
  const std::string leaf = dir + "/daemon";
  if (::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create ", leaf, " for the daemon: ", std::strerror(errno)));
  }
  for (const std::string& pid : Processes(dir)) {
    if (absl::Status moved = WriteFile(leaf + "/cgroup.procs", pid); !moved.ok()) return moved;
  }
  spdlog::info("moved the worker into {} so that {} can give its jobs the memory controller", leaf, dir);
  return WriteFile(control, "+memory");
}

void RemoveDir(const std::string& path) {
  // v1 may refuse for a moment while the last task's exit is accounted.
  for (int i = 0; i < 50; ++i) {
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  spdlog::warn("cannot remove the job cgroup {}: {}", path, std::strerror(errno));
}

// "self": this process's own cgroup, where systemd's Delegate=yes hands the
// unit its subtree. The cgroup v2 one when it offers the memory controller
// (under /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host), else
// the cgroup v1 memory hierarchy's.
absl::StatusOr<std::string> OwnCgroup() {
  auto lines = ReadFile("/proc/self/cgroup");
  if (!lines) return absl::UnavailableError("--job-cgroup self: cannot read /proc/self/cgroup");
  std::string v2, v1;
  for (absl::string_view line : absl::StrSplit(*lines, '\n', absl::SkipEmpty())) {
    std::vector<std::string> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3) continue;
    if (fields[0] == "0" && fields[1].empty()) {
      const std::string root =
          fs::exists("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
      v2 = root + fields[2];
    } else if (HasWord(absl::StrReplaceAll(fields[1], {{",", " "}}), "memory")) {
      v1 = "/sys/fs/cgroup/memory" + fields[2];
    }
  }
  if (auto controllers = ReadFile(v2 + "/cgroup.controllers");
      !v2.empty() && controllers && HasWord(*controllers, "memory")) {
    return v2;
  }
  if (!v1.empty() && fs::exists(v1 + "/memory.limit_in_bytes")) return v1;
  return absl::FailedPreconditionError(
      absl::StrCat("--job-cgroup self: this process's cgroup (", v2.empty() ? v1 : v2,
                   ") offers no memory controller (systemd: Delegate=yes on the unit)"));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const JobCgroups>> JobCgroups::Open(const std::string& requested) {
  std::string dir_in = requested;
  if (requested == "self") {
    auto own = OwnCgroup();
    if (!own.ok()) return own.status();
    dir_in = *own;
  }
  std::error_code ec;
  const std::string dir = fs::canonical(dir_in, ec).string();
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--job-cgroup ", dir_in, ": ", ec.message()));
  CgroupVersion version;
  if (auto controllers = ReadFile(dir + "/cgroup.controllers")) {
    if (!HasWord(*controllers, "memory")) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--job-cgroup ", dir, ": its parent does not delegate the memory controller (cgroup.controllers: '",
          absl::StripAsciiWhitespace(*controllers), "'; systemd: Delegate=yes)"));
    }
    version = CgroupVersion::kV2;
  } else if (fs::exists(dir + "/memory.limit_in_bytes", ec)) {
    version = CgroupVersion::kV1;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--job-cgroup ", dir, ": neither a cgroup v2 directory nor a cgroup v1 memory cgroup"));
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("--job-cgroup ", dir, ": not writable by this user (",
                                                    std::strerror(errno), "); delegate it to the worker's user"));
  }
  if (version == CgroupVersion::kV2) {
    if (absl::Status s = EnableMemoryForChildren(dir); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("--job-cgroup ", dir, ": ", s.message()));
    }
  }
  return std::shared_ptr<const JobCgroups>(new JobCgroups(dir, version));
}

absl::StatusOr<std::unique_ptr<JobCgroup>> JobCgroups::Create(int64_t job_id, int64_t limit_mb) const {
  // The daemon's pid keeps two daemons sharing a directory apart.
  const std::string path =
      absl::StrCat(dir_, "/job-", job_id, "-", ::getpid(), "-", next_.fetch_add(1, std::memory_order_relaxed));
  if (::mkdir(path.c_str(), 0755) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot create the job cgroup ", path, ": ", std::strerror(errno)));
  }
  std::unique_ptr<JobCgroup> cgroup(new JobCgroup(path, version_, limit_mb));
  const std::string bytes = std::to_string(limit_mb << 20);
  if (version_ == CgroupVersion::kV2) {
    if (absl::Status s = WriteFile(path + "/memory.max", bytes); !s.ok()) return s;
    // Without these the limit would push the job into swap, and a second
    // process of the job could outlive the first's kill.
    if (fs::exists(path + "/memory.swap.max")) (void)WriteFile(path + "/memory.swap.max", "0");
    (void)WriteFile(path + "/memory.oom.group", "1");
  } else {
    if (absl::Status s = WriteFile(path + "/memory.limit_in_bytes", bytes); !s.ok()) return s;
    if (fs::exists(path + "/memory.memsw.limit_in_bytes")) {
      (void)WriteFile(path + "/memory.memsw.limit_in_bytes", bytes);
    }
  }
  return cgroup;
}

int JobCgroups::SweepStale() const {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("job-", 0) != 0 || !entry.is_directory(ec)) continue;
    if (!Processes(entry.path().string()).empty()) continue;  // a running job
    // job-<job>-<daemon pid>-<n>: a daemon still alive may be about to move
    // its new trainer in.
    std::vector<absl::string_view> parts = absl::StrSplit(name, '-');
    int daemon_pid = 0;
    if (parts.size() == 4 && absl::SimpleAtoi(parts[2], &daemon_pid) && daemon_pid > 0 &&
        (daemon_pid == ::getpid() || ::kill(daemon_pid, 0) == 0)) {
      continue;
    }
    if (::rmdir(entry.path().c_str()) == 0) ++removed;
  }
  return removed;
}

JobCgroup::~JobCgroup() { RemoveDir(path_); }

absl::Status JobCgroup::Add(pid_t pid) const { return WriteFile(path_ + "/cgroup.procs", std::to_string(pid)); }

JobCgroupUsage JobCgroup::Usage() const {
  JobCgroupUsage usage;
  std::optional<int64_t> peak_bytes;
  if (version_ == CgroupVersion::kV2) {
    usage.oom_killed = KeyedValue(path_ + "/memory.events", "oom_kill").value_or(0) > 0;
    peak_bytes = NumberIn(path_ + "/memory.peak");  // Linux 5.19 and later
  } else {
    // oom_kill is in memory.oom_control since Linux 4.13; before, a limit
    // that was hit (failcnt) is the best sign there is.
    if (auto kills = KeyedValue(path_ + "/memory.oom_control", "oom_kill")) {
      usage.oom_killed = *kills > 0;
    } else {
      usage.oom_killed = NumberIn(path_ + "/memory.failcnt").value_or(0) > 0;
    }
    peak_bytes = NumberIn(path_ + "/memory.max_usage_in_bytes");
  }
  if (peak_bytes) usage.peak_mb = *peak_bytes >> 20;
  return usage;
}

std::string JobCgroup::LimitName() const {
  return version_ == CgroupVersion::kV2 ? "cgroup v2 memory.max" : "cgroup v1 memory.limit_in_bytes";
}

}  // namespace moe4::worker
