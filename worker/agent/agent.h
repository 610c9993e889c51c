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
// RequestShutdown() (SIGINT / SIGTERM) stops after the current batch and
// sends Fail("worker shutting down", retryable) so the job is requeued at
// once from its checkpoint. What each stop does with the checkpoint and the
// report queue is one table: stop_reason.h. Checkpoints are also bounded in
// size and swept by age at startup (AgentOptions).
//
// Run() is called on one thread; RequestShutdown() is safe from any thread.
#ifndef MOE4_WORKER_AGENT_AGENT_H_
#define MOE4_WORKER_AGENT_AGENT_H_

#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "moe4/v1/moe4.pb.h"
#include "worker/agent/checkpoint_dir.h"
#include "worker/agent/coordinator_client.h"
#include "worker/agent/stop_reason.h"
#include "worker/data/dataset.h"
#include "worker/models/registry.h"

namespace moe4::worker {

struct AgentOptions {
  std::string name;                                                 // unique daemon name, e.g. "box3-cuda0"
  torch::Device device = torch::kCPU;                               // training device
  int threads = 1;                                                  // intra-op threads
  std::string checkpoint_dir = "./moe4-checkpoints";                // job-<id>.pt, job-<id>.reports
  std::string data_root = "/usr/share/datasets";                    // default dataset location
  std::string version = "0.1.0";                                    // reported at registration
  std::chrono::milliseconds idle_poll{1000};                        // when Lease gives no retry_after_ms
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};  // transient errors
  // How long the final Complete/Fail keeps retrying once shutdown was asked.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(10)};
  // Bound on the job files in checkpoint_dir (0 = unlimited): before each
  // checkpoint is written, the files of the oldest jobs not running here are
  // removed until the directory fits (checkpoint_dir.h).
  uint64_t checkpoint_max_bytes = 0;
  // At startup, the files of jobs untouched for this long are removed (0 =
  // never). The WorkerService cannot tell a worker which jobs are still its
  // own, so age stands in: a paused job resumed after this retrains its
  // epochs from scratch (stored epochs are not re-reported), nothing is lost.
  std::chrono::seconds checkpoint_max_age{std::chrono::hours(24 * 7)};
};

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

 private:
  enum class CallResult { kOk, kFenced, kRejected, kGaveUp };

  bool Register();
  void RunJob(moe4::v1::JobAssignment job);
  // Retries transient failures with backoff; gives up once shutting down and
  // the grace period passed (or at once if `stop_on_shutdown`).
  template <typename Call>
  CallResult CallWithRetry(const char* what, const std::string& job_tag, Call call, bool stop_on_shutdown);
  // Sleeps unless shutdown is requested first; false if it was.
  bool SleepFor(std::chrono::milliseconds duration);
  std::shared_ptr<const DatasetPair> Dataset(const moe4::v1::DatasetSpec& spec, std::string* error, bool* retryable);
  void SendFail(const moe4::v1::JobAssignment& job, const std::string& tag, const std::string& reason, bool retryable);
  // Applies StopActionFor(reason) to the job's files once nothing more will
  // be written for it (no Fail, no reports), and counts it abandoned.
  void Abandon(const moe4::v1::JobAssignment& job, const std::string& tag, StopReason reason);
  void EnforceCheckpointLimit(int64_t running_job_id);

  CoordinatorClient& client_;
  const FamilyRegistry& registry_;
  const AgentOptions options_;
  const CheckpointDir checkpoints_;
  int64_t worker_id_ = 0;
  bool unauthenticated_ = false;

  std::atomic<bool> shutdown_{false};
  std::chrono::steady_clock::time_point shutdown_at_;  // GUARDED_BY(mu_)
  std::mutex mu_;
  std::condition_variable cv_;

  std::string cached_dataset_key_;  // last dataset spec loaded (serialized)
  std::shared_ptr<const DatasetPair> cached_dataset_;

  std::atomic<int64_t> jobs_completed_{0};
  std::atomic<int64_t> jobs_failed_{0};
  std::atomic<int64_t> jobs_abandoned_{0};
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_AGENT_AGENT_H_
