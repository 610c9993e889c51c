// The worker daemon's control loop: register, lease, train, report, and
// complete or fail, surviving coordinator outages, fencing and signals.
//
//   Register (retry while UNAVAILABLE) -> Lease (poll at retry_after_ms) ->
//   run the job: heartbeats on their own timer thread; after every epoch the
//   report goes into an on-disk queue that is flushed in order (kept while
//   the coordinator is unreachable, flushed after the next epoch or at the
//   end) -> Complete, or Fail with a reason and whether a retry could help.
//
// FAILED_PRECONDITION on any write (or a NOT_FOUND job) means another attempt
// owns the job: abandon it and lease again. A heartbeat reply asking to stop
// (paused, cancelled, timed out) stops training within one batch; the job is
// dropped without a write (the coordinator already decided its state).
// With jobs_per_device N > 1, N slots run that loop at once on the same
// device, each job on its own CUDA stream (worker/train/job_stream.h).
// Admission is by memory: a slot leases only when the device has at least
// kMinLeaseMemoryMb free beyond what running jobs reserve, tells the
// coordinator how much is free (LeaseRequest.free_memory_mb, so only jobs
// whose known need fits are granted), and slots start jobs one at a time:
// the next slot leases once the previous job's model is built and its
// memory is reserved. A job that runs out of memory fails as
// FAILURE_KIND_OUT_OF_MEMORY with the memory it needed at least, which the
// coordinator records so the retry goes where that much is free.
//
// RequestShutdown() (SIGINT / SIGTERM) stops after the current batch and
// sends Fail("worker shutting down", retryable) so the job is requeued at
// once from its checkpoint. What each stop does with the checkpoint and the
// report queue is one table: stop_reason.h. Checkpoints are also bounded in
// size and swept by age at startup (AgentOptions).
//
// Run() is called on one thread (it starts the other slots' threads and
// joins them); RequestShutdown() is safe from any thread.
#ifndef MOE4_WORKER_AGENT_AGENT_H_
#define MOE4_WORKER_AGENT_AGENT_H_

#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "moe4/v1/moe4.pb.h"
#include "worker/agent/checkpoint_dir.h"
#include "worker/agent/coordinator_client.h"
#include "worker/agent/stop_reason.h"
#include "worker/agent/trainer_process.h"
#include "worker/agent/worker_metrics.h"
#include "worker/data/dataset.h"
#include "worker/data/image_decode.h"  // kDefaultMaxImagePixels
#include "worker/models/registry.h"

namespace moe4::worker {

// Where a job trains. kProcess: in a child process of its own
// (trainer_process.h), so that an abort, a crash or the OOM killer ends the
// job and not the daemon; the default of moe4-worker. kThread: on the
// slot's thread, sharing loaded datasets between jobs (tests, debugging).
enum class JobIsolation { kThread, kProcess };

struct AgentOptions {
  std::string name;                                                 // unique daemon name, e.g. "box3-cuda0"
  torch::Device device = torch::kCPU;                               // training device
  int threads = 1;                                                  // intra-op threads
  std::string checkpoint_dir = "./moe4-checkpoints";                // job-<id>.pt, job-<id>.reports
  std::string data_root = "/usr/share/datasets";                    // default dataset location
  std::string data_cache;                                           // image caches: "" = beside the dataset, "none"
  int64_t max_image_pixels = kDefaultMaxImagePixels;                // larger images are bad files
  std::string version = "0.1.0";                                    // reported at registration
  std::chrono::milliseconds idle_poll{1000};                        // when Lease gives no retry_after_ms
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};  // transient errors
  // How long the final Complete/Fail keeps retrying once shutdown was asked.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(10)};
  // Bound on the job files in checkpoint_dir (0 = unlimited): before each
  // checkpoint is written, the files of the oldest jobs not running here are
  // removed until the directory fits (checkpoint_dir.h).
  uint64_t checkpoint_max_bytes = 0;
  // At startup, once registered, the files of jobs that will never run again
  // are removed (the coordinator's ObsoleteJobs says which); before that, the
  // files of jobs untouched for this long (0 = never): the backstop for a
  // coordinator that cannot say (an older one), and for jobs paused for
  // longer. A paused job resumed after this retrains its epochs from
  // scratch (stored epochs are not re-reported), nothing is lost.
  std::chrono::seconds checkpoint_max_age{std::chrono::hours(24 * 7)};
  // Jobs run at once on the device (--jobs-per-device), each on a thread and
  // (on a GPU) a CUDA stream of its own. Default 1.
  int jobs_per_device = 1;
  // Memory (MiB) of the device this daemon may use (--device-memory-mb), for
  // a device shared with other work; 0 = all of it. Registered as the
  // device's memory and bounds what each lease offers.
  int64_t device_memory_cap_mb = 0;
  // After a job failed because its checkpoint could not be written (a full
  // or unwritable --checkpoint-dir), this daemon takes no job for this long,
  // doubling while it keeps happening up to 32 times as long: its jobs go to
  // other workers meanwhile instead of using up their attempts here.
  std::chrono::seconds checkpoint_failure_pause{10};
  // Tries of one call answered INTERNAL or UNKNOWN (RpcErrorClass::kSuspect)
  // before the error counts as permanent; outages (UNAVAILABLE, ...) are
  // retried without a bound. With the backoff doubling to max_backoff, the
  // default gives a server about 3 minutes to recover.
  int suspect_retry_budget = 10;
  JobIsolation job_isolation = JobIsolation::kThread;
  // kProcess: the executable started with --trainer-process (moe4-worker
  // itself), the memory limit of each trainer process in MiB
  // (--job-memory-max; 0 = none), the cgroups that enforce it (--job-cgroup;
  // null = the process's RLIMIT_DATA) and the process's log level.
  std::string trainer_executable;
  int64_t job_memory_max_mb = 0;
  std::shared_ptr<const JobCgroups> job_cgroups;
  std::string log_level = "info";
  // Where the agent counts jobs, epochs, memory and retries (moe4-worker
  // serves it on --http-listen); nullptr = a registry of the agent's own,
  // read through Agent::metrics().
  std::shared_ptr<WorkerMetrics> metrics;
};

// A slot with other jobs running leases only when at least this much device
// memory (MiB) is free beyond their reservations.
inline constexpr int64_t kMinLeaseMemoryMb = 256;

// Exit codes of Run().
inline constexpr int kExitOk = 0;
inline constexpr int kExitUnauthenticated = 3;

class Agent {
 public:
  Agent(CoordinatorClient& client, const FamilyRegistry& registry, AgentOptions options);

  // The loop; returns an exit code once shutdown is requested (kExitOk) or the
  // coordinator rejects this worker's credentials (kExitUnauthenticated).
  int Run();
  void RequestShutdown();
  bool shutting_down() const { return shutdown_.load(); }

  // Jobs finished by this agent, for tests and logs.
  int64_t jobs_completed() const { return jobs_completed_.load(); }
  int64_t jobs_failed() const { return jobs_failed_.load(); }
  int64_t jobs_abandoned() const { return jobs_abandoned_.load(); }
  // The most jobs that ran here at the same time.
  int max_concurrent_jobs() const { return max_concurrent_jobs_.load(); }
  WorkerMetrics& metrics() const { return *metrics_; }

  // One leased job, in phases (job_run.h); public for its tests.
  class JobRun;

 private:
  enum class CallResult { kOk, kFenced, kRejected, kGaveUp };
  class AdmissionTicket;

  bool Register();
  // Removes the checkpoint files of jobs the coordinator says will never
  // run again. At startup, after Register, before any job runs here.
  void SweepObsoleteCheckpoints();
  // One slot: lease, run, repeat until shutdown; returns Run()'s exit code.
  int LeaseLoop(int slot);
  // Whether leasing is paused after a checkpoint failure (then an idle
  // heartbeat keeps this worker alive in the coordinator's eyes).
  bool LeasePaused();
  void NoteCheckpointOutcome(bool failed);
  // Memory (MiB) one more job could use now: the device's free memory, at
  // most its total less what running jobs reserve; 0 when unknown.
  int64_t FreeMemoryForNextJobMb();
  // `free_memory_mb`: what was free for it when it was leased (0 = unknown).
  // Runs the job's phases (JobRun) and keeps the slot's bookkeeping.
  void RunJob(moe4::v1::JobAssignment job, int64_t free_memory_mb, AdmissionTicket& admission);
  // Loads the dataset and trains, on this thread or in a trainer process
  // (options_.job_isolation); a dataset that cannot load is a kFailed
  // outcome ("dataset: ...", retryable unless the spec is at fault).
  TrainOutcome Train(const moe4::v1::JobAssignment& job, const std::string& checkpoint_path, int64_t free_memory_mb,
                     const TrainerHooks& hooks);
  // Bookkeeping of the jobs running here, by job id: the memory reserved.
  void JobStarted(int64_t job_id, int64_t reserved_mb);
  void ReserveMemory(int64_t job_id, int64_t reserved_mb);
  void JobEnded(int64_t job_id);
  // The memory gauge from running_reserved_mb_; called with jobs_mu_ held.
  void PublishReservedMemory();
  // Retries transient failures with jittered exponential backoff (suspect
  // ones within suspect_retry_budget tries); gives up once shutting down and
  // the grace period passed (or at once if `stop_on_shutdown`). `last_error`,
  // when given, receives the last failure's description.
  CallResult CallWithRetry(const char* what, const std::string& job_tag, const std::function<grpc::Status()>& call,
                           bool stop_on_shutdown, std::string* last_error = nullptr);
  // Sleeps unless shutdown is requested first; false if it was.
  bool SleepFor(std::chrono::milliseconds duration);
  std::shared_ptr<const DatasetPair> Dataset(const moe4::v1::DatasetSpec& spec, std::string* error, bool* retryable);
  // `memory_needed_mb` > 0: the job ran out of memory and needs at least that.
  void SendFail(const moe4::v1::JobAssignment& job, const std::string& tag, const std::string& reason, bool retryable,
                int64_t memory_needed_mb = 0);
  // Applies StopActionFor(reason) to the job's files once nothing more will
  // be written for it (no Fail, no reports), and counts it abandoned.
  void Abandon(const moe4::v1::JobAssignment& job, const std::string& tag, StopReason reason);
  void EnforceCheckpointLimit();

  CoordinatorClient& client_;
  const FamilyRegistry& registry_;
  const AgentOptions options_;
  const CheckpointDir checkpoints_;
  const std::shared_ptr<WorkerMetrics> metrics_;  // never null
  std::atomic<int64_t> worker_id_{0};
  std::atomic<bool> unauthenticated_{false};
  std::mutex register_mu_;       // one slot re-registers at a time
  int64_t device_memory_mb_ = 0;  // from the last Register; GUARDED_BY(register_mu_) for writes

  std::atomic<bool> shutdown_{false};
  std::chrono::steady_clock::time_point shutdown_at_;  // GUARDED_BY(mu_)
  std::mutex mu_;
  std::condition_variable cv_;

  // Slots start jobs one at a time (AdmissionTicket).
  bool admitting_ = false;  // GUARDED_BY(mu_)

  std::mutex jobs_mu_;
  std::map<int64_t, int64_t> running_reserved_mb_;  // job id -> MiB reserved; GUARDED_BY(jobs_mu_)
  std::mutex checkpoint_limit_mu_;                  // one EnforceLimit at a time
  // No lease before this (a checkpoint failure's pause) and how many
  // checkpoint failures in a row led to it; GUARDED_BY(jobs_mu_).
  std::chrono::steady_clock::time_point lease_paused_until_{};
  int checkpoint_failures_in_a_row_ = 0;

  // Datasets loaded, by serialized spec: kept while a job uses one, the
  // least recent dropped once no job does (slots may run different campaigns).
  std::mutex dataset_mu_;  // held while loading: a second slot waits for the same dataset
  std::map<std::string, std::shared_ptr<const DatasetPair>> datasets_;  // GUARDED_BY(dataset_mu_)

  std::atomic<int64_t> jobs_completed_{0};
  std::atomic<int64_t> jobs_failed_{0};
  std::atomic<int64_t> jobs_abandoned_{0};
  std::atomic<int> max_concurrent_jobs_{0};
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_AGENT_AGENT_H_
