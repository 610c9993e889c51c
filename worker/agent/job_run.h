// One leased job on one slot of an Agent, run in four phases
// (Agent::RunJob calls them in order and stops at the first that ends it):
//
//   Prepare   recipe defaults and validation (an invalid job: Fail, no retry),
//             heartbeats from here on, a clean report queue, the checkpoint bound
//   Train     the trainer, with hooks that queue and send each epoch's report
//             (ReportEpoch) and say why to stop (StopRequested)
//   Drain     what the outcome allows of the queued reports is delivered, in
//             order, then heartbeats stop; a fenced attempt or a stop the
//             coordinator decided is abandoned here, without a write
//   Finalise  Complete, or Fail with a reason and whether a retry could help,
//             and the checkpoint and queue files per stop_reason.h
//
// The phases are public so that tests drive them one at a time against a
// fake coordinator. Not thread-safe: owned by the slot thread running the job;
// the trainer's hooks run on that thread, the heartbeat thread only sets
// flags that StopRequested reads.
#ifndef MOE4_WORKER_AGENT_JOB_RUN_H_
#define MOE4_WORKER_AGENT_JOB_RUN_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "moe4/v1/moe4.pb.h"
#include "worker/agent/agent.h"
#include "worker/agent/heartbeat.h"
#include "worker/agent/report_queue.h"
#include "worker/agent/stop_reason.h"
#include "worker/train/trainer.h"

namespace moe4::worker {

class Agent::JobRun {
 public:
  // `free_memory_mb`: what was free for the job when it was leased (0 =
  // unknown). `on_admitted` runs once the model is built and its memory
  // reserved (the slot then lets the next one lease); may be empty.
  JobRun(Agent& agent, moe4::v1::JobAssignment job, int64_t free_memory_mb, std::function<void()> on_admitted);
  JobRun(const JobRun&) = delete;
  JobRun& operator=(const JobRun&) = delete;

  // Phase 1. False when the job ended here (an invalid job, already failed).
  bool Prepare();
  // Phase 2. Trains on this thread or in a trainer process (AgentOptions).
  TrainOutcome Train();
  // Phase 3. False when the job ended here (abandoned: fenced, or stopped by
  // the coordinator); otherwise the queue is as empty as delivery allowed and
  // heartbeats have stopped.
  bool Drain(const TrainOutcome& outcome);
  // Phase 4: the terminal write and the job's files, by outcome.
  void Finalise(const TrainOutcome& outcome);

  // Train's hooks, public for tests. ReportEpoch queues one epoch and tries
  // to send the queue once (an outage leaves it buffered on disk);
  // StopRequested says why training must stop now, if it must.
  void ReportEpoch(const moe4::v1::EpochMetrics& metrics);
  std::optional<std::string> StopRequested();

  // After a failure outside the phases (an exception): heartbeats stop
  // before the Fail that reports it.
  void StopHeartbeats();

  const moe4::v1::JobAssignment& job() const { return job_; }
  const std::string& tag() const { return tag_; }
  ReportQueue& queue() { return queue_; }

 private:
  // How SendQueued treats a failed call: kOnce gives up at once (transient:
  // buffered; the next epoch tries again); kRetry retries as CallWithRetry does.
  enum class Delivery { kOnce, kRetry };

  void LogLease() const;
  // Sends the queue in order, in chunks the coordinator accepts; stops at the
  // first chunk not stored (sets fenced_ or report_rejected_ when that is why).
  void SendQueued(Delivery delivery);
  // One chunk of at most kMaxEpochsPerReport epochs from the queue's front.
  CallResult SendChunk(Delivery delivery, moe4::v1::ReportEpochsRequest& request);
  // Marks the attempt fenced if the heartbeats saw it; abandons it if so.
  bool AbandonIfFenced(StopReason reason);
  // The outcomes' terminal writes.
  void FinishCompleted(const TrainOutcome& outcome);
  void SendComplete(const TrainOutcome& outcome);
  void FinishStopped(const TrainOutcome& outcome);
  void FinishFailed(const TrainOutcome& outcome);
  // Why the trainer stopped; a stop the hook did not explain would be a
  // trainer bug, handled as the safest stop (keep, retry).
  StopReason stop_reason() const { return stop_.value_or(StopReason::kShutdown); }

  Agent& agent_;
  moe4::v1::JobAssignment job_;
  const int64_t free_memory_mb_;
  const std::function<void()> on_admitted_;
  const std::string tag_;  // "job <id> attempt <n>", prefixes every log line
  // An asha rung trains through stop_after_epoch and keeps its checkpoint
  // when it completes: a promotion continues from it on this worker.
  const bool rung_ends_early_;
  const int last_epoch_;
  const std::chrono::steady_clock::time_point start_;  // max_job_seconds counts from the lease
  const std::string checkpoint_path_;
  ReportQueue queue_;
  std::optional<Heartbeater> heartbeat_;  // from Prepare until Drain
  bool fenced_ = false;                   // a write was refused as from a stale attempt
  // Why training stopped early, set by StopRequested; `stop_by_worker_`: the
  // worker decided (shutdown, its own time budget, a refused report), not the
  // coordinator.
  std::optional<StopReason> stop_;
  bool stop_by_worker_ = false;
  // The coordinator's answer to an epoch report it refused as invalid; the
  // job then fails at once with it (stop_reason.h).
  std::string report_rejected_;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_AGENT_JOB_RUN_H_
