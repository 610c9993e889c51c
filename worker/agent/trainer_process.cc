// The daemon's side of a trainer process: start it, feed it the job, turn
// its events into hook calls, stop it when the hook says so, and read how
// it ended. See trainer_process.h.
#include "worker/agent/trainer_process.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "worker/agent/trainer_process.pb.h"

extern char** environ;

namespace moe4::worker {
namespace {

using Clock = std::chrono::steady_clock;
namespace ipc = moe4::worker::ipc;
// How long a trainer that closed its events may take to exit.
constexpr auto kExitGrace = std::chrono::seconds(30);

// A pipe end that closes itself.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Close();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string SignalName(int signo) {
  const char* abbrev = sigabbrev_np(signo);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signo);
}

TrainOutcome FromProto(const ipc::TrainerProcessOutcome& p) {
  TrainOutcome o;
  switch (p.kind()) {
    case ipc::TrainerProcessOutcome::KIND_COMPLETED: o.kind = TrainOutcome::Kind::kCompleted; break;
    case ipc::TrainerProcessOutcome::KIND_STOPPED: o.kind = TrainOutcome::Kind::kStopped; break;
    default: o.kind = TrainOutcome::Kind::kFailed; break;
  }
  o.reason = p.reason();
  o.retryable = p.retryable();
  o.out_of_memory = p.out_of_memory();
  o.memory_needed_mb = p.memory_needed_mb();
  o.checkpoint_failed = p.checkpoint_failed();
  o.final_test_accuracy = p.final_test_accuracy();
  o.best_test_accuracy = p.best_test_accuracy();
  o.selected_epoch = p.selected_epoch();
  o.validation_accuracy = p.validation_accuracy();
  o.selected_test_accuracy = p.selected_test_accuracy();
  o.parameter_count = p.parameter_count();
  o.train_seconds = p.train_seconds();
  return o;
}

// Writes are to a pipe whose reader may have died: that must be an error
// (EPIPE), not a SIGPIPE that ends the daemon.
void IgnoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

// Splits the bytes read from the child into length-delimited events.
class EventReader {
 public:
  void Append(const char* data, size_t size) { buffer_.append(data, size); }
  // The next complete event, if the buffer holds one; false + `error` set on
  // bytes that are no event.
  bool Next(ipc::TrainerProcessEvent* event, bool* complete, std::string* error) {
    *complete = false;
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(buffer_.data()),
                                              static_cast<int>(buffer_.size()));
    uint32_t size = 0;
    if (!in.ReadVarint32(&size)) {
      if (buffer_.size() < 5) return true;  // the length itself is still arriving
      *error = "a bad event length";
      return false;
    }
    const size_t header = static_cast<size_t>(in.CurrentPosition());
    if (size > (64u << 20)) {
      *error = "an event of " + std::to_string(size) + " bytes";
      return false;
    }
    if (buffer_.size() < header + size) return true;
    if (!event->ParseFromArray(buffer_.data() + header, static_cast<int>(size))) {
      *error = "an event that does not parse";
      return false;
    }
    buffer_.erase(0, header + size);
    *complete = true;
    return true;
  }

 private:
  std::string buffer_;
};

}  // namespace

std::string CurrentExecutable() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : path.string();
}

TrainOutcome RunInTrainerProcess(const TrainerProcessOptions& options, const moe4::v1::JobAssignment& job,
                                 const TrainerHooks& hooks) {
  IgnoreSigpipe();
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) {
    return FailedOutcome(std::string("trainer process: pipe: ") + strerror(errno), true);
  }
  Fd child_stdin(to_child[0]), control(to_child[1]);
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    return FailedOutcome(std::string("trainer process: pipe: ") + strerror(errno), true);
  }
  Fd events(from_child[0]), child_events(from_child[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_stdin.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, child_events.get(), 3);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // A clean signal state: nothing blocked, SIGPIPE (ignored here) default.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  // The job's cgroup exists before its process does, and the process is
  // moved in before it is sent its job: what it allocates for the job is
  // charged to the cgroup (only its start-up, loading the executable and
  // its libraries, is charged where the daemon runs).
  std::unique_ptr<JobCgroup> cgroup;
  if (options.cgroups && options.memory_limit_mb > 0) {
    auto made = options.cgroups->Create(job.job_id(), options.memory_limit_mb);
    if (made.ok()) {
      cgroup = std::move(*made);
    } else {
      spdlog::warn("job {}: {}; limiting the trainer with RLIMIT_DATA instead", job.job_id(),
                   std::string(made.status().message()));
    }
  }
  std::string exe = options.executable, flag = kTrainerProcessFlag;
  std::vector<char*> argv = {exe.data(), flag.data(), nullptr};
  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, exe.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  child_stdin.Close();
  child_events.Close();
  if (spawn_error != 0) {
    return FailedOutcome("trainer process: cannot start " + exe + ": " + strerror(spawn_error), true);
  }

  if (cgroup) {
    if (absl::Status added = cgroup->Add(pid); !added.ok()) {
      spdlog::warn("job {}: {}; limiting the trainer with RLIMIT_DATA instead", job.job_id(),
                   std::string(added.message()));
      cgroup.reset();
    }
  }

  ipc::TrainerProcessRequest request;
  *request.mutable_job() = job;
  request.set_device(options.device);
  request.set_threads(options.threads);
  request.set_checkpoint_path(options.checkpoint_path);
  request.set_memory_budget_mb(options.memory_budget_mb);
  request.set_memory_limit_mb(cgroup ? 0 : options.memory_limit_mb);  // the cgroup is the limit
  request.set_data_root(options.load.data_root);
  request.set_data_cache(options.load.data_cache);
  request.set_max_image_pixels(options.load.max_image_pixels);
  request.set_log_level(options.log_level);
  request.set_parent_pid(static_cast<int32_t>(::getpid()));
  // A child that died at once makes this fail (EPIPE); waitpid says why.
  google::protobuf::util::SerializeDelimitedToFileDescriptor(request, control.get());

  std::optional<TrainOutcome> outcome;
  std::optional<std::string> stop_reason;
  Clock::time_point stop_deadline{};
  bool killed = false;
  int last_epoch = 0;
  std::vector<moe4::v1::EpochMetrics> history;
  std::string protocol_error;
  EventReader reader;
  char buffer[1 << 16];
  for (;;) {
    pollfd p{events.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, 100);
    if (ready > 0) {
      const ssize_t n = ::read(events.get(), buffer, sizeof(buffer));
      if (n == 0) break;  // the child closed fd 3: it is ending
      if (n < 0 && errno != EINTR && errno != EAGAIN) break;
      if (n > 0) reader.Append(buffer, static_cast<size_t>(n));
      ipc::TrainerProcessEvent event;
      bool complete = false;
      while (protocol_error.empty() && reader.Next(&event, &complete, &protocol_error) && complete) {
        switch (event.event_case()) {
          case ipc::TrainerProcessEvent::kModelBuiltStaticMemoryMb:
            if (hooks.on_model_built) hooks.on_model_built(event.model_built_static_memory_mb());
            break;
          case ipc::TrainerProcessEvent::kProgress:
            if (hooks.on_step) hooks.on_step(event.progress().epoch(), event.progress().step());
            break;
          case ipc::TrainerProcessEvent::kEpoch:
            last_epoch = event.epoch().epoch();
            history.push_back(event.epoch());
            if (hooks.on_epoch) hooks.on_epoch(event.epoch());
            break;
          case ipc::TrainerProcessEvent::kOutcome:
            outcome = FromProto(event.outcome());
            break;
          case ipc::TrainerProcessEvent::EVENT_NOT_SET:
            break;
        }
      }
      if (!protocol_error.empty() && !killed) {
        ::kill(pid, SIGKILL);
        killed = true;
      }
    } else if (ready < 0 && errno != EINTR) {
      break;
    }
    if (!stop_reason && hooks.stop_reason) {
      if ((stop_reason = hooks.stop_reason())) {
        ipc::TrainerProcessControl stop;
        stop.set_stop_reason(*stop_reason);
        google::protobuf::util::SerializeDelimitedToFileDescriptor(stop, control.get());
        stop_deadline = Clock::now() + options.stop_grace;
      }
    } else if (stop_reason && !killed && Clock::now() > stop_deadline) {
      spdlog::warn("job {}: the trainer process did not stop within {} ms; killing it", job.job_id(),
                   options.stop_grace.count());
      ::kill(pid, SIGKILL);
      killed = true;
    }
  }
  control.Close();  // the child's control reader sees EOF, if it still runs
  // It closed its events: it is exiting. One that hangs on the way out (a
  // destructor waiting on a thread) must not hold this job slot for ever.
  int status = 0;
  rusage usage{};
  const auto exit_deadline = Clock::now() + kExitGrace;
  bool hung = false;  // killed here for not exiting
  for (;;) {
    const pid_t done = ::wait4(pid, &status, WNOHANG, &usage);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (Clock::now() > exit_deadline && !killed) {
      spdlog::warn("job {}: the trainer process has not exited {} s after its last event; killing it", job.job_id(),
                   std::chrono::duration_cast<std::chrono::seconds>(kExitGrace).count());
      ::kill(pid, SIGKILL);
      killed = hung = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int64_t peak_rss_mb = usage.ru_maxrss / 1024;  // ru_maxrss is in KiB
  const JobCgroupUsage cgroup_usage = cgroup ? cgroup->Usage() : JobCgroupUsage{};
  // The cgroup itself goes when `cgroup` does, its process reaped by now.

  if (!protocol_error.empty()) {
    return FailedOutcome("trainer process: it sent " + protocol_error + " (a bug; see the worker log)", true);
  }
  if (outcome) {
    outcome->history = std::move(history);
    if (outcome->out_of_memory && options.memory_limit_mb > 0) {
      outcome->reason += " (the trainer process's limit, --job-memory-max, is " +
                         std::to_string(options.memory_limit_mb) + " MiB" +
                         (cgroup ? ", " + cgroup->LimitName() : std::string()) + ")";
    }
    return *outcome;
  }
  const std::string after = last_epoch > 0 ? " after epoch " + std::to_string(last_epoch) : " before its first epoch";
  if (stop_reason) {
    // Asked to stop and gone without its outcome (killed after the grace
    // period, or died on the way out): the stop still stands.
    TrainOutcome o;
    o.kind = TrainOutcome::Kind::kStopped;
    o.reason = *stop_reason;
    return o;
  }
  if (hung) {
    return FailedOutcome("the trainer process stopped sending events" + after + " but did not exit; killed it", true);
  }
  if (WIFSIGNALED(status)) {
    const int signo = WTERMSIG(status);
    if (signo == SIGKILL && cgroup_usage.oom_killed) {
      const int64_t limit = cgroup->limit_mb();
      const int64_t peak = cgroup_usage.peak_mb.value_or(peak_rss_mb);
      TrainOutcome o =
          FailedOutcome("out of memory: needed more than " + std::to_string(limit) +
                            " MiB, the trainer process's limit (--job-memory-max, " + cgroup->LimitName() +
                            "); the kernel killed it" + after + " at a peak of " + std::to_string(peak) + " MiB",
                        true);
      o.out_of_memory = true;
      o.memory_needed_mb = std::max(peak, limit + 1);
      return o;
    }
    if (signo == SIGKILL) {
      TrainOutcome o = FailedOutcome(
          "out of memory: the trainer process was killed (SIGKILL, the kernel's out-of-memory "
          "killer or an operator)" +
              after + " at a peak of " + std::to_string(peak_rss_mb) + " MiB resident",
          true);
      o.out_of_memory = true;
      o.memory_needed_mb = peak_rss_mb;
      return o;
    }
    return FailedOutcome("the trainer process died of " + SignalName(signo) +
                             (signo == SIGABRT ? " (an abort in LibTorch or below)" : "") + after +
                             (WCOREDUMP(status) ? ", core dumped" : "") + "; the worker log has its last words",
                         true);
  }
  return FailedOutcome("the trainer process exited with status " + std::to_string(WEXITSTATUS(status)) + after +
                           " without an outcome; the worker log says why",
                       true);
}

}  // namespace moe4::worker
