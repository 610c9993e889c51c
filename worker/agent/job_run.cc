#include "worker/agent/job_run.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "worker/train/device.h"
#include "worker/train/recipe.h"

namespace moe4::worker {
namespace {

using std::chrono::milliseconds;
constexpr int kMaxEpochsPerReport = 500;  // below the coordinator's bound of 1000

std::string TagOf(const moe4::v1::JobAssignment& job) {
  return "job " + std::to_string(job.job_id()) + " attempt " + std::to_string(job.attempt());
}

// Read before FillRecipeDefaults, as the agent always has: a rung ends early
// only against the epochs the coordinator sent.
bool RungEndsEarly(const moe4::v1::JobAssignment& job) {
  return job.stop_after_epoch() > 0 && job.stop_after_epoch() < job.recipe().epochs();
}

}  // namespace

Agent::JobRun::JobRun(Agent& agent, moe4::v1::JobAssignment job, int64_t free_memory_mb,
                      std::function<void()> on_admitted)
    : agent_(agent),
      job_(std::move(job)),
      free_memory_mb_(free_memory_mb),
      on_admitted_(std::move(on_admitted)),
      tag_(TagOf(job_)),
      rung_ends_early_(RungEndsEarly(job_)),
      last_epoch_(rung_ends_early_ ? job_.stop_after_epoch() : job_.recipe().epochs()),
      start_(std::chrono::steady_clock::now()),
      checkpoint_path_(agent.checkpoints_.CheckpointPath(job_.job_id())),
      queue_(agent.checkpoints_.ReportsPath(job_.job_id())) {}

void Agent::JobRun::LogLease() const {
  std::string families;
  for (const auto& f : job_.families()) families += (families.empty() ? "" : "+") + f;
  if (rung_ends_early_) {
    spdlog::info("{}: leased {} on {} (rung {}: epochs through {} of {}, resume after epoch {})", tag_, families,
                 job_.dataset().name(), job_.rung(), last_epoch_, job_.recipe().epochs(), job_.resume_from_epoch());
  } else {
    spdlog::info("{}: leased {} on {} ({} epochs, resume after epoch {})", tag_, families, job_.dataset().name(),
                 job_.recipe().epochs(), job_.resume_from_epoch());
  }
}

// Owns: the recipe's defaults, the job's validity, starting heartbeats, the
// queue left by an earlier attempt, room in --checkpoint-dir.
bool Agent::JobRun::Prepare() {
  LogLease();
  FillRecipeDefaults(job_.mutable_recipe());
  if (auto s = ValidateJob(job_, agent_.registry_); !s.ok()) {
    agent_.SendFail(job_, tag_, "invalid job: " + std::string(s.message()), false);
    return false;
  }
  // Heartbeats from the lease on: loading a dataset for the first time may
  // take a while, and must not cost the lease.
  const milliseconds interval(std::max<int64_t>(1000, job_.lease_seconds() * 1000 / 3));
  heartbeat_.emplace(agent_.client_, agent_.worker_id_, job_.job_id(), job_.attempt(), interval);
  // Reports still queued from an earlier attempt are re-derived by the
  // trainer from the checkpoint; start from a clean queue.
  if (auto s = queue_.Clear(); !s.ok()) spdlog::warn("{}: {}", tag_, std::string(s.message()));
  agent_.EnforceCheckpointLimit();  // before the first checkpoint of this attempt
  return true;
}

// Owns: the trainer's hooks (memory reservation and admission, reports,
// progress for the heartbeats, stop requests) and the training itself.
TrainOutcome Agent::JobRun::Train() {
  TrainerHooks hooks;
  hooks.on_model_built = [this](int64_t static_memory_mb) {
    // Its memory is now reserved: the next slot may lease.
    agent_.ReserveMemory(job_.job_id(), static_memory_mb);
    if (on_admitted_) on_admitted_();
  };
  hooks.on_epoch = [this](const moe4::v1::EpochMetrics& m) { ReportEpoch(m); };
  hooks.on_step = [this](int epoch, int64_t step) { heartbeat_->SetProgress(epoch, step); };
  // Runs on this thread (the trainer polls it before every batch).
  hooks.stop_reason = [this] { return StopRequested(); };
  return agent_.Train(job_, checkpoint_path_, free_memory_mb_, hooks);
}

void Agent::JobRun::ReportEpoch(const moe4::v1::EpochMetrics& m) {
  spdlog::info("{}: epoch {}/{} train_loss {:.4f} test_acc {:.4f} ({:.1f} s, {:.0f} img/s)", tag_, m.epoch(),
               last_epoch_, m.train_loss(), m.test_accuracy(), m.epoch_seconds(), m.images_per_second());
  agent_.metrics_->EpochTrained(m.images_per_second());
  // A busy worker leases nothing, so the free-memory gauge would stand
  // still without this look.
  agent_.metrics_->SetDeviceMemoryFreeMb(DeviceFreeMemoryMb(agent_.options_.device));
  if (auto s = queue_.Push(m); !s.ok()) spdlog::warn("{}: {}", tag_, std::string(s.message()));
  SendQueued(Delivery::kOnce);
  agent_.EnforceCheckpointLimit();  // before the next epoch's checkpoint
}

std::optional<std::string> Agent::JobRun::StopRequested() {
  if (!report_rejected_.empty()) {
    stop_ = StopReason::kReportRejected, stop_by_worker_ = true;
    return std::string(StopActionFor(*stop_).log) + ": " + report_rejected_;
  }
  const int64_t max_seconds = job_.max_job_seconds();
  if (agent_.shutdown_.load()) {
    stop_ = StopReason::kShutdown, stop_by_worker_ = true;
  } else if (heartbeat_ && heartbeat_->cancel_requested()) {
    // Before fenced: a report refused because the coordinator just paused
    // the job is explained by the pause, which keeps the checkpoint.
    stop_ = StopReasonFromProto(heartbeat_->coordinator_stop_reason());
  } else if (fenced_ || (heartbeat_ && heartbeat_->fenced())) {
    stop_ = StopReason::kFenced;
  } else if (max_seconds > 0 && std::chrono::steady_clock::now() - start_ > std::chrono::seconds(max_seconds)) {
    stop_ = StopReason::kTimedOut, stop_by_worker_ = true;
  } else {
    return std::nullopt;
  }
  std::string text(StopActionFor(*stop_).log);
  if (*stop_ == StopReason::kTimedOut) text += " (" + std::to_string(max_seconds) + " s)";
  return text;
}

void Agent::JobRun::SendQueued(Delivery delivery) {
  while (!queue_.empty() && !fenced_) {
    moe4::v1::ReportEpochsRequest request;
    request.set_worker_id(agent_.worker_id_);
    request.set_job_id(job_.job_id());
    request.set_attempt(job_.attempt());
    for (const auto& m : queue_.pending()) {
      if (request.epochs_size() == kMaxEpochsPerReport) break;
      *request.add_epochs() = m;
    }
    const CallResult result = SendChunk(delivery, request);
    // Stored, or refused as invalid (resending the same values cannot help).
    if (result == CallResult::kOk || result == CallResult::kRejected) {
      if (auto s = queue_.Drop(request.epochs_size()); !s.ok()) spdlog::warn("{}: {}", tag_, std::string(s.message()));
    }
    if (result == CallResult::kFenced) fenced_ = true;
    if (result != CallResult::kOk) return;
  }
}

Agent::CallResult Agent::JobRun::SendChunk(Delivery delivery, moe4::v1::ReportEpochsRequest& request) {
  moe4::v1::ReportEpochsResponse response;
  auto call = [&] { return agent_.client_.ReportEpochs(request, &response); };
  CallResult result;
  if (delivery == Delivery::kRetry) {
    std::string error;
    result = agent_.CallWithRetry("ReportEpochs", tag_, call, false, &error);
    if (result == CallResult::kRejected) report_rejected_ = error;
  } else {
    const grpc::Status s = call();
    const RpcErrorClass error_class = ClassifyRpcError(s);
    result = s.ok()                                  ? CallResult::kOk
             : error_class == RpcErrorClass::kFenced ? CallResult::kFenced
             : IsTransient(s)                        ? CallResult::kGaveUp
                                                     : CallResult::kRejected;
    if (result == CallResult::kGaveUp) {
      spdlog::warn("{}: coordinator unreachable ({}); {} epoch report(s) buffered on disk", tag_, DescribeRpcError(s),
                   queue_.pending().size());
    } else if (result == CallResult::kRejected) {
      spdlog::error("{}: ReportEpochs rejected ({})", tag_, DescribeRpcError(s));
      report_rejected_ = DescribeRpcError(s);
    } else if (result == CallResult::kFenced) {
      spdlog::warn("{}: ReportEpochs rejected ({}): attempt fenced", tag_, DescribeRpcError(s));
    }
  }
  if (result == CallResult::kOk) {
    spdlog::info("{}: reported epoch(s) {}..{}", tag_, request.epochs(0).epoch(),
                 request.epochs(request.epochs_size() - 1).epoch());
  }
  return result;
}

bool Agent::JobRun::AbandonIfFenced(StopReason reason) {
  fenced_ = fenced_ || (heartbeat_ && heartbeat_->fenced());
  if (fenced_) agent_.Abandon(job_, tag_, reason);
  return fenced_;
}

// Owns: delivering the reports the outcome allows, ending heartbeats, and
// abandoning an attempt that is no longer this worker's to end. Heartbeats go
// on while the last reports are delivered (that may take a coordinator
// outage), and stop just before the terminal write so no beat arrives for a
// finished job.
bool Agent::JobRun::Drain(const TrainOutcome& outcome) {
  if (AbandonIfFenced(stop_ && !stop_by_worker_ ? *stop_ : StopReason::kFenced)) return false;
  bool deliver = true;
  if (outcome.kind == TrainOutcome::Kind::kStopped) {
    spdlog::info("{}: stopped: {}", tag_, outcome.reason);
    if (!stop_by_worker_) {
      // The coordinator decided the job's state already: no writes.
      agent_.Abandon(job_, tag_, stop_reason());
      return false;
    }
    deliver = StopActionFor(stop_reason()).deliver_reports;
  }
  if (deliver) SendQueued(Delivery::kRetry);
  StopHeartbeats();
  return !AbandonIfFenced(StopReason::kFenced);
}

void Agent::JobRun::StopHeartbeats() {
  if (heartbeat_) heartbeat_->Stop();
}

// Owns: the terminal write (Complete or Fail) and what stays on disk.
void Agent::JobRun::Finalise(const TrainOutcome& outcome) {
  switch (outcome.kind) {
    case TrainOutcome::Kind::kCompleted:
      return FinishCompleted(outcome);
    case TrainOutcome::Kind::kStopped:
      return FinishStopped(outcome);
    case TrainOutcome::Kind::kFailed:
      return FinishFailed(outcome);
  }
}

void Agent::JobRun::FinishCompleted(const TrainOutcome& outcome) {
  if (!report_rejected_.empty()) {
    // An epoch can never be stored: the job cannot complete.
    agent_.SendFail(job_, tag_, std::string(StopActionFor(StopReason::kReportRejected).log) + ": " + report_rejected_,
                    /*retryable=*/false);
    queue_.Remove();
    agent_.checkpoints_.RemoveCheckpoint(job_.job_id());
    return;
  }
  if (!queue_.empty()) {
    // Never complete a job whose epochs the coordinator has not stored.
    spdlog::warn("{}: {} epoch report(s) undelivered; leaving the job to be requeued", tag_, queue_.pending().size());
    return;
  }
  SendComplete(outcome);
}

void Agent::JobRun::SendComplete(const TrainOutcome& outcome) {
  moe4::v1::CompleteRequest request;
  request.set_worker_id(agent_.worker_id_);
  request.set_job_id(job_.job_id());
  request.set_attempt(job_.attempt());
  request.set_final_test_accuracy(outcome.final_test_accuracy);
  request.set_best_test_accuracy(outcome.best_test_accuracy);
  request.set_parameter_count(outcome.parameter_count);
  request.set_train_seconds(outcome.train_seconds);
  moe4::v1::CompleteResponse response;
  std::string error;
  const auto result = agent_.CallWithRetry(
      "Complete", tag_, [&] { return agent_.client_.Complete(request, &response); }, false, &error);
  if (result == CallResult::kOk) {
    spdlog::info("{}: completed: final test accuracy {:.4f}, best {:.4f}, {} parameters, {:.1f} s", tag_,
                 outcome.final_test_accuracy, outcome.best_test_accuracy, outcome.parameter_count,
                 outcome.train_seconds);
    ++agent_.jobs_completed_;
    agent_.metrics_->JobCompleted();
    agent_.NoteCheckpointOutcome(false);
    queue_.Remove();
    if (rung_ends_early_) {
      spdlog::info("{}: rung {} done; checkpoint kept for a promotion", tag_, job_.rung());
    } else {
      agent_.checkpoints_.RemoveCheckpoint(job_.job_id());
    }
  } else if (result == CallResult::kFenced) {
    agent_.Abandon(job_, tag_, StopReason::kFenced);
  } else if (result == CallResult::kRejected && !agent_.unauthenticated_) {
    // A permanent answer: the job's record says so, instead of its lease
    // running out with the cause in this log only. Retryable, checkpoint
    // kept: a later attempt (after the server is fixed) resumes at the end
    // and completes.
    agent_.SendFail(job_, tag_, "Complete refused by the coordinator: " + error, /*retryable=*/true);
    queue_.Remove();
  }
}

// A stop the worker decided (Drain abandoned the others): Fail, retryable
// when the job runs again, and the checkpoint per stop_reason.h.
void Agent::JobRun::FinishStopped(const TrainOutcome& outcome) {
  const StopAction& action = StopActionFor(stop_reason());
  agent_.SendFail(job_, tag_, outcome.reason, /*retryable=*/action.runs_again);
  queue_.Remove();
  if (!action.keep_checkpoint) agent_.checkpoints_.RemoveCheckpoint(job_.job_id());
}

void Agent::JobRun::FinishFailed(const TrainOutcome& outcome) {
  spdlog::error("{}: training failed: {}", tag_, outcome.reason);
  agent_.NoteCheckpointOutcome(outcome.checkpoint_failed);
  agent_.SendFail(job_, tag_, outcome.reason, outcome.retryable,
                  outcome.out_of_memory ? std::max<int64_t>(1, outcome.memory_needed_mb) : 0);
  if (!outcome.retryable) {
    queue_.Remove();
    agent_.checkpoints_.RemoveCheckpoint(job_.job_id());
  }
}

}  // namespace moe4::worker
