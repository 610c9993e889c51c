// The trainer process's side (moe4-worker --trainer-process): one job,
// trained with the ordinary Trainer, its hooks sent to the daemon as events
// on fd 3, stop requests read from stdin. See trainer_process.h.
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "worker/agent/trainer_process.h"
#include "worker/agent/trainer_process.pb.h"
#include "worker/data/image_set.h"  // DescribeSkipped
#include "worker/train/device.h"

namespace moe4::worker {
namespace {

namespace ipc = moe4::worker::ipc;
constexpr int kEventFd = 3;
constexpr int kExitBadRequest = 2;
constexpr int kExitDaemonGone = 3;
constexpr auto kProgressInterval = std::chrono::milliseconds(250);

ipc::TrainerProcessOutcome ToProto(const TrainOutcome& o) {
  ipc::TrainerProcessOutcome p;
  switch (o.kind) {
    case TrainOutcome::Kind::kCompleted: p.set_kind(ipc::TrainerProcessOutcome::KIND_COMPLETED); break;
    case TrainOutcome::Kind::kStopped: p.set_kind(ipc::TrainerProcessOutcome::KIND_STOPPED); break;
    case TrainOutcome::Kind::kFailed: p.set_kind(ipc::TrainerProcessOutcome::KIND_FAILED); break;
  }
  p.set_reason(o.reason);
  p.set_retryable(o.retryable);
  p.set_out_of_memory(o.out_of_memory);
  p.set_memory_needed_mb(o.memory_needed_mb);
  p.set_checkpoint_failed(o.checkpoint_failed);
  p.set_final_test_accuracy(o.final_test_accuracy);
  p.set_best_test_accuracy(o.best_test_accuracy);
  p.set_selected_epoch(o.selected_epoch);
  p.set_validation_accuracy(o.validation_accuracy);
  p.set_selected_test_accuracy(o.selected_test_accuracy);
  p.set_parameter_count(o.parameter_count);
  p.set_train_seconds(o.train_seconds);
  return p;
}

// Sends one event; a daemon that stopped reading is gone, and so is the job.
void Send(const ipc::TrainerProcessEvent& event) {
  if (!google::protobuf::util::SerializeDelimitedToFileDescriptor(event, kEventFd)) {
    spdlog::error("the worker daemon no longer reads this trainer's events; exiting");
    std::_Exit(kExitDaemonGone);
  }
}

void SendOutcome(const TrainOutcome& outcome) {
  ipc::TrainerProcessEvent event;
  *event.mutable_outcome() = ToProto(outcome);
  Send(event);
}

// The stop reason the daemon sent (stdin), read on a thread of its own.
class StopRequests {
 public:
  // Reads control messages until EOF; EOF means the daemon went away
  // without asking: stop too.
  void ReadFrom(google::protobuf::io::ZeroCopyInputStream* in) {
    reader_ = std::thread([this, in] {
      for (;;) {
        ipc::TrainerProcessControl control;
        bool clean_eof = false;
        if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&control, in, &clean_eof)) {
          Set("the worker daemon closed the trainer's control pipe");
          return;
        }
        Set(control.stop_reason().empty() ? "stopped by the worker daemon" : control.stop_reason());
      }
    });
    reader_.detach();  // blocked in read() until the process ends
  }
  std::optional<std::string> Get() {
    if (!requested_.load()) return std::nullopt;
    std::lock_guard<std::mutex> lock(mu_);
    return reason_;
  }

 private:
  void Set(std::string reason) {
    std::lock_guard<std::mutex> lock(mu_);
    if (requested_.load()) return;  // the first reason stands
    reason_ = std::move(reason);
    requested_.store(true);
  }
  std::thread reader_;
  std::mutex mu_;
  std::string reason_;  // GUARDED_BY(mu_)
  std::atomic<bool> requested_{false};
};

int TrainOneJob(const FamilyRegistry& registry);

}  // namespace

int TrainerProcessMain(const FamilyRegistry& registry) {
  try {
    return TrainOneJob(registry);
  } catch (const std::bad_alloc&) {
    // Before or after the Trainer (which catches its own): e.g. loading a
    // dataset over --job-memory-max.
    TrainOutcome o;
    o.reason = "out of memory: a host allocation failed outside training (loading the dataset?)";
    o.retryable = true;
    o.out_of_memory = true;
    SendOutcome(o);
  } catch (const std::exception& e) {
    TrainOutcome o;
    o.reason = std::string("trainer process: ") + e.what();
    o.retryable = true;
    SendOutcome(o);
  }
  return 0;
}

namespace {

int TrainOneJob(const FamilyRegistry& registry) {
  // The daemon decides how a job stops: a Ctrl-C or systemd's SIGTERM to
  // the whole group reaches it, and it tells this process.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);

  google::protobuf::io::FileInputStream in(STDIN_FILENO);
  ipc::TrainerProcessRequest request;
  if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&request, &in, nullptr)) {
    spdlog::error("{}: no job request on stdin (this mode is started by moe4-worker itself)", kTrainerProcessFlag);
    return kExitBadRequest;
  }
  // The daemon may have died between starting this process and the prctl.
  if (request.parent_pid() != 0 && ::getppid() != request.parent_pid()) return kExitDaemonGone;
  const moe4::v1::JobAssignment& job = request.job();
  spdlog::set_level(spdlog::level::from_str(request.log_level()));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [moe4-worker job " + std::to_string(job.job_id()) + "] [%l] %v");

  if (request.memory_limit_mb() > 0) {
    const rlim_t bytes = static_cast<rlim_t>(request.memory_limit_mb()) << 20;
    const rlimit limit{bytes, bytes};
    if (::setrlimit(RLIMIT_DATA, &limit) != 0) {
      spdlog::warn("cannot limit the trainer's memory to {} MiB (RLIMIT_DATA); training without a limit",
                   request.memory_limit_mb());
    }
  }
  StopRequests stops;
  stops.ReadFrom(&in);

  auto device = ParseDevice(request.device());
  if (!device.ok()) {
    TrainOutcome o;
    o.reason = "trainer process: " + std::string(device.status().message());
    SendOutcome(o);
    return 0;
  }
  LoadOptions load;
  load.data_root = request.data_root();
  load.data_cache = request.data_cache();
  load.max_image_pixels = request.max_image_pixels();
  load.threads = request.threads();
  auto data = LoadDataset(job.dataset(), load);
  if (!data.ok()) {
    TrainOutcome o;
    o.reason = "dataset: " + std::string(data.status().message());
    // Missing or corrupt files are this machine's problem; a bad spec is not.
    o.retryable = data.status().code() != absl::StatusCode::kInvalidArgument;
    SendOutcome(o);
    return 0;
  }
  if (!data->skipped.empty()) {
    spdlog::warn("dataset {}: {}", job.dataset().name(), DescribeSkipped(data->skipped));
  }

  TrainerOptions options;
  options.device = *device;
  options.threads = request.threads();
  options.checkpoint_path = request.checkpoint_path();
  options.memory_budget_mb = request.memory_budget_mb();
  const char* failpoint = std::getenv(kTrainerFailpointEnv);
  const bool abort_after_first_epoch =
      failpoint != nullptr && std::string(failpoint) == "abort_in_first_attempt" && job.attempt() == 1;

  Trainer trainer(registry, job, *data, options);
  TrainerHooks hooks;
  hooks.on_model_built = [](int64_t static_memory_mb) {
    ipc::TrainerProcessEvent event;
    event.set_model_built_static_memory_mb(static_memory_mb);
    Send(event);
  };
  hooks.on_epoch = [&](const moe4::v1::EpochMetrics& metrics) {
    ipc::TrainerProcessEvent event;
    *event.mutable_epoch() = metrics;
    Send(event);
    if (abort_after_first_epoch) {
      spdlog::error("{}=abort_in_first_attempt: aborting after epoch {}", kTrainerFailpointEnv, metrics.epoch());
      std::abort();
    }
  };
  // Progress feeds the heartbeat; a few times a second is plenty.
  auto last_progress = std::chrono::steady_clock::now() - kProgressInterval;
  hooks.on_step = [&](int epoch, int64_t step) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_progress < kProgressInterval) return;
    last_progress = now;
    ipc::TrainerProcessEvent event;
    event.mutable_progress()->set_epoch(epoch);
    event.mutable_progress()->set_step(step);
    Send(event);
  };
  hooks.stop_reason = [&] { return stops.Get(); };
  SendOutcome(trainer.Run(hooks));
  return 0;
}

}  // namespace
}  // namespace moe4::worker
