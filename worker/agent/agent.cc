#include "worker/agent/agent.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "worker/agent/job_run.h"
#include "worker/data/image_set.h"  // DescribeSkipped
#include "worker/data/loader.h"
#include "worker/train/device.h"
#include "worker/train/trainer.h"

namespace moe4::worker {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kInitialBackoff{500};

bool IsAuthError(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAUTHENTICATED || s.error_code() == grpc::StatusCode::PERMISSION_DENIED;
}

}  // namespace

// The right to start a job: held by one slot from before its Lease until
// its job's memory is reserved (the model is built) or the job ends, so each
// slot leases knowing what the jobs started before it take. Not thread-safe:
// owned by one slot.
class Agent::AdmissionTicket {
 public:
  // Waits for the previous holder; returns with held() false on shutdown.
  explicit AdmissionTicket(Agent& agent) : agent_(agent) {
    std::unique_lock<std::mutex> lock(agent_.mu_);
    agent_.cv_.wait(lock, [this] { return !agent_.admitting_ || agent_.shutdown_.load(); });
    if (agent_.shutdown_.load()) return;
    agent_.admitting_ = true;
    held_ = true;
  }
  ~AdmissionTicket() { Release(); }
  AdmissionTicket(const AdmissionTicket&) = delete;
  AdmissionTicket& operator=(const AdmissionTicket&) = delete;

  bool held() const { return held_; }
  void Release() {
    if (!held_) return;
    held_ = false;
    {
      std::lock_guard<std::mutex> lock(agent_.mu_);
      agent_.admitting_ = false;
    }
    agent_.cv_.notify_all();
  }

 private:
  Agent& agent_;
  bool held_ = false;
};

Agent::Agent(CoordinatorClient& client, const FamilyRegistry& registry, AgentOptions options)
    : client_(client),
      registry_(registry),
      options_(std::move(options)),
      checkpoints_(options_.checkpoint_dir),
      metrics_(options_.metrics ? options_.metrics
                                : std::make_shared<WorkerMetrics>(options_.name, options_.device.str())) {}

int64_t Agent::FreeMemoryForNextJobMb() {
  const int64_t device_free = DeviceFreeMemoryMb(options_.device);
  metrics_->SetDeviceMemoryFreeMb(device_free);
  int64_t reserved = 0;
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    for (const auto& [job_id, mb] : running_reserved_mb_) reserved += mb;
  }
  int64_t total = 0;
  {
    std::lock_guard<std::mutex> lock(register_mu_);
    total = device_memory_mb_;
  }
  // Both are upper bounds: the driver's figure misses what running jobs will
  // still allocate, the reservations miss everything outside this daemon.
  int64_t free = total > 0 ? total - reserved : 0;
  if (device_free > 0) free = total > 0 ? std::min(free, device_free) : device_free;
  return std::max<int64_t>(free, 0);
}

bool Agent::LeasePaused() {
  std::lock_guard<std::mutex> lock(jobs_mu_);
  return std::chrono::steady_clock::now() < lease_paused_until_;
}

void Agent::NoteCheckpointOutcome(bool failed) {
  std::lock_guard<std::mutex> lock(jobs_mu_);
  if (!failed) {
    checkpoint_failures_in_a_row_ = 0;
    return;
  }
  const int doublings = std::min(checkpoint_failures_in_a_row_++, 5);
  const auto pause = options_.checkpoint_failure_pause * (1 << doublings);
  lease_paused_until_ = std::chrono::steady_clock::now() + pause;
  spdlog::warn("--checkpoint-dir {} cannot take a checkpoint: no job taken for {} s (its jobs go to other workers)",
               options_.checkpoint_dir, std::chrono::duration_cast<std::chrono::seconds>(pause).count());
}

void Agent::JobStarted(int64_t job_id, int64_t reserved_mb) {
  std::lock_guard<std::mutex> lock(jobs_mu_);
  running_reserved_mb_[job_id] = reserved_mb;
  const int running = static_cast<int>(running_reserved_mb_.size());
  if (running > max_concurrent_jobs_.load()) max_concurrent_jobs_.store(running);
  metrics_->JobStarted();
  PublishReservedMemory();
}

void Agent::ReserveMemory(int64_t job_id, int64_t reserved_mb) {
  std::lock_guard<std::mutex> lock(jobs_mu_);
  auto it = running_reserved_mb_.find(job_id);
  if (it != running_reserved_mb_.end()) it->second = std::max(it->second, reserved_mb);
  PublishReservedMemory();
}

void Agent::JobEnded(int64_t job_id) {
  std::lock_guard<std::mutex> lock(jobs_mu_);
  running_reserved_mb_.erase(job_id);
  metrics_->JobEnded();
  PublishReservedMemory();
}

void Agent::PublishReservedMemory() {
  int64_t reserved = 0;
  for (const auto& [job_id, mb] : running_reserved_mb_) reserved += mb;
  metrics_->SetDeviceMemoryReservedMb(reserved);
}

void Agent::RequestShutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shutdown_.load()) shutdown_at_ = std::chrono::steady_clock::now();
    shutdown_.store(true);
  }
  cv_.notify_all();
}

bool Agent::SleepFor(milliseconds duration) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, duration, [this] { return shutdown_.load(); });
}

Agent::CallResult Agent::CallWithRetry(const char* what, const std::string& tag,
                                       const std::function<grpc::Status()>& call, bool stop_on_shutdown,
                                       std::string* last_error) {
  milliseconds backoff = kInitialBackoff;
  int suspect_tries = 0;
  for (;;) {
    const grpc::Status s = call();
    if (s.ok()) return CallResult::kOk;
    if (last_error != nullptr) *last_error = DescribeRpcError(s);
    const RpcErrorClass error_class = ClassifyRpcError(s);
    switch (error_class) {
      case RpcErrorClass::kFenced:
        spdlog::warn("{}: {} rejected ({}): this attempt was fenced, abandoning the job", tag, what,
                     DescribeRpcError(s));
        return CallResult::kFenced;
      case RpcErrorClass::kAuth:
        unauthenticated_ = true;
        spdlog::error("{}: {} refused ({}): check the worker token", tag, what, DescribeRpcError(s));
        return CallResult::kRejected;
      case RpcErrorClass::kPermanent:
        spdlog::error("{}: {} rejected ({})", tag, what, DescribeRpcError(s));
        return CallResult::kRejected;
      case RpcErrorClass::kSuspect:
        if (++suspect_tries >= options_.suspect_retry_budget) {
          spdlog::error("{}: {} failed {} times ({}): a deterministic server error, not retried further", tag, what,
                        suspect_tries, DescribeRpcError(s));
          return CallResult::kRejected;
        }
        break;
      case RpcErrorClass::kTransient:
        break;
    }
    if (shutdown_.load()) {
      std::chrono::steady_clock::time_point since;
      {
        std::lock_guard<std::mutex> lock(mu_);
        since = shutdown_at_;
      }
      if (stop_on_shutdown || std::chrono::steady_clock::now() - since > options_.shutdown_grace) {
        spdlog::warn("{}: {} not delivered before shutdown ({})", tag, what, DescribeRpcError(s));
        return CallResult::kGaveUp;
      }
      metrics_->RpcRetried(what);
      std::this_thread::sleep_for(std::min(backoff, milliseconds(1000)));
    } else {
      // Full jitter in [backoff/2, backoff]: workers that lost the same
      // coordinator do not come back in step.
      metrics_->RpcRetried(what);
      thread_local std::mt19937_64 rng{std::random_device{}()};
      const milliseconds wait(std::uniform_int_distribution<int64_t>(backoff.count() / 2, backoff.count())(rng));
      spdlog::warn("{}: {} failed ({}, {}); retrying in {} ms", tag, what, RpcErrorClassName(error_class),
                   DescribeRpcError(s), wait.count());
      SleepFor(wait);
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

bool Agent::Register() {
  std::lock_guard<std::mutex> lock(register_mu_);
  DeviceInfo info = DescribeDevice(options_.device);
  if (options_.device_memory_cap_mb > 0) {
    info.memory_mb = info.memory_mb > 0 ? std::min(info.memory_mb, options_.device_memory_cap_mb)
                                        : options_.device_memory_cap_mb;
  }
  moe4::v1::RegisterRequest request;
  request.set_name(options_.name);
  request.set_device_kind(info.kind);
  request.set_device_name(info.name);
  request.set_device_memory_mb(info.memory_mb);
  request.set_threads(options_.threads);
  request.set_version(options_.version);
  moe4::v1::RegisterResponse response;
  const auto result = CallWithRetry(
      "Register", "worker " + options_.name, [&] { return client_.Register(request, &response); },
      /*stop_on_shutdown=*/true);
  if (result != CallResult::kOk) return false;
  worker_id_ = response.worker_id();
  device_memory_mb_ = info.memory_mb;
  metrics_->SetDeviceMemoryRegisteredMb(info.memory_mb);
  spdlog::info("registered as worker {} ('{}', {} {}, {} threads)", worker_id_.load(), options_.name, info.kind, info.name,
               options_.threads);
  return true;
}

void Agent::SweepObsoleteCheckpoints() {
  std::set<int64_t> held;
  for (const auto& entry : checkpoints_.List()) held.insert(entry.job_id);
  const std::vector<int64_t> ids(held.begin(), held.end());
  constexpr size_t kBatch = 10000;  // the most one ObsoleteJobs call may ask about
  for (size_t from = 0; from < ids.size(); from += kBatch) {
    moe4::v1::ObsoleteJobsRequest request;
    request.set_worker_id(worker_id_);
    for (size_t i = from; i < std::min(ids.size(), from + kBatch); ++i) request.add_job_ids(ids[i]);
    moe4::v1::ObsoleteJobsResponse response;
    const grpc::Status status = client_.ObsoleteJobs(request, &response);
    if (!status.ok()) {
      // Not worth a retry loop: the age sweep stands in, and the next start asks again.
      spdlog::info("could not ask the coordinator which of {} checkpointed jobs are over ({}); keeping their files",
                   ids.size(), DescribeRpcError(status));
      return;
    }
    for (const int64_t job_id : response.obsolete_job_ids()) {
      if (held.count(job_id) == 0) continue;  // only what was asked about
      checkpoints_.RemoveJob(job_id);
      spdlog::info("removed the checkpoint files of job {}: it will never run again", job_id);
    }
  }
}

int Agent::Run() {
  // Files of jobs that are no longer this worker's: nothing runs yet, and the
  // coordinator cannot be asked which jobs are, so age decides (agent.h).
  for (const int64_t job_id : checkpoints_.SweepOlderThan(options_.checkpoint_max_age)) {
    spdlog::info("removed the checkpoint files of job {}: untouched for over {} h", job_id,
                 options_.checkpoint_max_age.count() / 3600);
  }
  if (!Register()) return unauthenticated_ ? kExitUnauthenticated : kExitOk;
  SweepObsoleteCheckpoints();
  const int slots = std::max(1, options_.jobs_per_device);
  std::vector<std::thread> others;
  std::vector<int> codes(static_cast<size_t>(slots), kExitOk);
  for (int slot = 1; slot < slots; ++slot) {
    others.emplace_back([this, slot, &codes] { codes[static_cast<size_t>(slot)] = LeaseLoop(slot); });
  }
  codes[0] = LeaseLoop(0);
  for (auto& t : others) t.join();
  spdlog::info("worker {} shut down", worker_id_.load());
  for (const int code : codes) {
    if (code != kExitOk) return code;
  }
  return kExitOk;
}

int Agent::LeaseLoop(int slot) {
  // A slot that must end the daemon (credentials refused) stops the others.
  auto end_daemon = [this](int code) {
    RequestShutdown();
    return code;
  };
  milliseconds backoff = kInitialBackoff;
  while (!shutdown_.load()) {
    if (LeasePaused()) {
      // Alive, but taking no job: tell the coordinator so.
      moe4::v1::HeartbeatRequest idle;
      idle.set_worker_id(worker_id_);
      moe4::v1::HeartbeatResponse ignored;
      (void)client_.Heartbeat(idle, &ignored);
      SleepFor(std::min<milliseconds>(options_.idle_poll * 5, std::chrono::seconds(5)));
      continue;
    }
    AdmissionTicket admission(*this);
    if (!admission.held()) break;  // shutting down
    const int64_t free_mb = FreeMemoryForNextJobMb();
    bool others_running = false;
    {
      std::lock_guard<std::mutex> lock(jobs_mu_);
      others_running = !running_reserved_mb_.empty();
    }
    if (others_running && free_mb < kMinLeaseMemoryMb) {
      // The device is as full as the running jobs make it: wait for one to end.
      admission.Release();
      SleepFor(options_.idle_poll);
      continue;
    }
    moe4::v1::LeaseRequest request;
    request.set_worker_id(worker_id_);
    request.set_free_memory_mb(free_mb);
    moe4::v1::LeaseResponse response;
    const grpc::Status s = client_.Lease(request, &response);
    if (s.ok()) {
      backoff = kInitialBackoff;
      if (response.has_job()) {
        RunJob(response.job(), free_mb, admission);
      } else {
        admission.Release();
        SleepFor(response.retry_after_ms() > 0 ? milliseconds(response.retry_after_ms()) : options_.idle_poll);
      }
      continue;
    }
    admission.Release();
    if (IsAuthError(s)) {
      spdlog::error("Lease refused ({}): check the worker token", DescribeRpcError(s));
      unauthenticated_ = true;
      return end_daemon(kExitUnauthenticated);
    }
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      // The coordinator no longer knows this worker id (e.g. a fresh database).
      spdlog::warn("Lease: worker {} unknown to the coordinator; registering again (slot {})", worker_id_.load(),
                   slot);
      if (!Register()) return end_daemon(unauthenticated_ ? kExitUnauthenticated : kExitOk);
      continue;
    }
    spdlog::warn("Lease failed ({}); retrying in {} ms", DescribeRpcError(s), backoff.count());
    metrics_->RpcRetried("Lease");
    SleepFor(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  return kExitOk;
}

std::shared_ptr<const DatasetPair> Agent::Dataset(const moe4::v1::DatasetSpec& spec, std::string* error,
                                                  bool* retryable) {
  const std::string key = spec.SerializeAsString();
  std::lock_guard<std::mutex> lock(dataset_mu_);
  if (auto it = datasets_.find(key); it != datasets_.end()) return it->second;
  // Free the datasets no running job holds before loading the next.
  for (auto it = datasets_.begin(); it != datasets_.end();) {
    it = it->second.use_count() == 1 ? datasets_.erase(it) : std::next(it);
  }
  LoadOptions load;
  load.data_root = options_.data_root;
  load.data_cache = options_.data_cache;
  load.max_image_pixels = options_.max_image_pixels;
  load.threads = options_.threads;
  auto loaded = LoadDataset(spec, load);
  if (!loaded.ok()) {
    *error = std::string(loaded.status().message());
    // Missing or corrupt files are this machine's problem; a bad spec is not.
    *retryable = loaded.status().code() != absl::StatusCode::kInvalidArgument;
    return nullptr;
  }
  auto dataset = std::make_shared<const DatasetPair>(std::move(*loaded));
  datasets_[key] = dataset;
  return dataset;
}

void Agent::SendFail(const moe4::v1::JobAssignment& job, const std::string& tag, const std::string& reason,
                     bool retryable, int64_t memory_needed_mb) {
  moe4::v1::FailRequest request;
  request.set_worker_id(worker_id_);
  request.set_job_id(job.job_id());
  request.set_attempt(job.attempt());
  request.set_reason(reason.substr(0, 2000));
  request.set_retryable(retryable);
  if (memory_needed_mb > 0) {
    request.set_kind(moe4::v1::FAILURE_KIND_OUT_OF_MEMORY);
    request.set_memory_needed_mb(memory_needed_mb);
  }
  moe4::v1::FailResponse response;
  const auto result = CallWithRetry(
      "Fail", tag, [&] { return client_.Fail(request, &response); }, false);
  if (result == CallResult::kOk) {
    spdlog::info("{}: reported failure ({}retryable, coordinator {} retry): {}", tag, retryable ? "" : "not ",
                 response.will_retry() ? "will" : "will not", reason);
  }
  ++jobs_failed_;
  metrics_->JobFailed(retryable);
}

void Agent::Abandon(const moe4::v1::JobAssignment& job, const std::string& tag, StopReason reason) {
  const StopAction& action = StopActionFor(reason);
  std::error_code ignored;
  std::filesystem::remove(checkpoints_.ReportsPath(job.job_id()), ignored);
  if (!action.keep_checkpoint) checkpoints_.RemoveCheckpoint(job.job_id());
  spdlog::info("{}: abandoned ({}); checkpoint {}", tag, action.log, action.keep_checkpoint ? "kept" : "removed");
  ++jobs_abandoned_;
  metrics_->JobAbandoned();
}

void Agent::EnforceCheckpointLimit() {
  if (options_.checkpoint_max_bytes == 0) return;
  std::lock_guard<std::mutex> serial(checkpoint_limit_mu_);
  std::set<int64_t> running;
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    for (const auto& [job_id, mb] : running_reserved_mb_) running.insert(job_id);
  }
  for (const int64_t job_id : checkpoints_.EnforceLimit(options_.checkpoint_max_bytes, running)) {
    spdlog::info("removed the checkpoint files of job {}: --checkpoint-dir over --checkpoint-max-bytes {}", job_id,
                 options_.checkpoint_max_bytes);
  }
  const uintmax_t used = checkpoints_.UsageBytes();
  if (used > options_.checkpoint_max_bytes) {
    spdlog::warn("--checkpoint-dir holds {} bytes, over --checkpoint-max-bytes {}, with only the running jobs' files",
                 used, options_.checkpoint_max_bytes);
  }
}

TrainOutcome Agent::Train(const moe4::v1::JobAssignment& job, const std::string& checkpoint_path,
                          int64_t free_memory_mb, const TrainerHooks& hooks) {
  if (options_.job_isolation == JobIsolation::kProcess) {
    TrainerProcessOptions process;
    process.executable = options_.trainer_executable;
    process.device = options_.device.str();
    process.threads = options_.threads;
    process.checkpoint_path = checkpoint_path;
    process.memory_budget_mb = free_memory_mb;
    process.memory_limit_mb = options_.job_memory_max_mb;
    process.cgroups = options_.job_cgroups;
    process.load.data_root = options_.data_root;
    process.load.data_cache = options_.data_cache;
    process.load.max_image_pixels = options_.max_image_pixels;
    process.log_level = options_.log_level;
    return RunInTrainerProcess(process, job, hooks);
  }
  TrainOutcome failed;  // kFailed
  std::string error;
  auto data = Dataset(job.dataset(), &error, &failed.retryable);
  if (!data) {
    failed.reason = "dataset: " + error;
    return failed;
  }
  if (!data->skipped.empty()) {
    spdlog::warn("job {}: dataset {}: {}", job.job_id(), job.dataset().name(), DescribeSkipped(data->skipped));
  }
  TrainerOptions trainer_options;
  trainer_options.device = options_.device;
  trainer_options.threads = options_.threads;
  trainer_options.checkpoint_path = checkpoint_path;
  trainer_options.memory_budget_mb = free_memory_mb;
  Trainer trainer(registry_, job, *data, trainer_options);
  return trainer.Run(hooks);
}

void Agent::RunJob(moe4::v1::JobAssignment job, int64_t free_memory_mb, AdmissionTicket& admission) {
  // Running here from now on: its files are safe from the checkpoint bound,
  // and what it is known to need is reserved until it ends.
  JobStarted(job.job_id(), job.min_memory_mb());
  struct EndJob {
    Agent& agent;
    int64_t job_id;
    AdmissionTicket& admission;
    ~EndJob() {
      admission.Release();
      agent.JobEnded(job_id);
    }
  } end_job{*this, job.job_id(), admission};
  JobRun run(*this, std::move(job), free_memory_mb, [&admission] { admission.Release(); });
  try {
    if (!run.Prepare()) return;
    const TrainOutcome outcome = run.Train();
    if (!run.Drain(outcome)) return;
    run.Finalise(outcome);
  } catch (const std::exception& e) {
    // Whatever went wrong stays inside this job: the daemon leases again.
    spdlog::error("{}: unexpected error: {}", run.tag(), e.what());
    run.StopHeartbeats();
    SendFail(run.job(), run.tag(), std::string("worker error: ") + e.what(), true);
  }
}

}  // namespace moe4::worker
