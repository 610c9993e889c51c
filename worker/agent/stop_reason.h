// Why a running job stops before it finishes, and what the agent then does
// with its checkpoint, its report queue and the coordinator. One table
// (StopActionFor) decides; control flow never compares reason strings.
//
//   reason     decided by   checkpoint  report queue                Fail sent
//   paused     coordinator  kept        discarded                   no
//   cancelled  coordinator  removed     discarded                   no
//   timed out  either       removed     delivered, then discarded   non-retryable (when the worker decided)
//   fenced     coordinator  removed     discarded                   no
//   shutdown   worker       kept        delivered within the grace, retryable
//                                       then discarded
//   report     worker       removed     discarded                   non-retryable, with the
//   rejected                                                        coordinator's answer
//
// Why: a paused job goes back to the queue and resumes later, most cheaply
// here from its checkpoint; a shut-down worker's job is requeued at once and
// the restarted daemon resumes it. A cancelled job never runs again, and a
// timed-out one is failed for good (a retry would only time out again).
// A fenced attempt lost its job to another attempt, which usually runs on
// another worker and reports its own epochs; this checkpoint may be behind
// the epochs stored since and would only sit on disk (if the job comes back
// here the trainer trains on from scratch without re-reporting stored
// epochs, so removing it costs time, never correctness). A queue is
// discarded when the coordinator already ended the attempt (it would refuse
// the reports); the next attempt re-derives unstored epochs from the
// checkpoint. An epoch report the coordinator refuses as invalid (not
// fenced, not an outage) can never be stored, and a job is only complete
// with every epoch stored: the job fails at once with the coordinator's
// answer as its reason, instead of training on towards a Complete that must
// be refused. Constants; safe from any thread.
#ifndef MOE4_WORKER_AGENT_STOP_REASON_H_
#define MOE4_WORKER_AGENT_STOP_REASON_H_

#include <string_view>

#include "moe4/v1/moe4.pb.h"

namespace moe4::worker {

enum class StopReason { kPaused, kCancelled, kTimedOut, kFenced, kShutdown, kReportRejected };

// "paused", "cancelled", "timed out", "fenced", "shutdown", "report rejected".
std::string_view StopReasonName(StopReason reason);

struct StopAction {
  bool keep_checkpoint;  // else job-<id>.pt is removed
  // Deliver queued epoch reports before the job ends (only when the worker
  // decided to stop: the coordinator refuses reports of an attempt it ended).
  // Either way job-<id>.reports is removed afterwards: what is undelivered is
  // re-derived from the checkpoint by the next attempt.
  bool deliver_reports;
  bool runs_again;         // the job will be leased again (the Fail the worker sends is retryable)
  std::string_view log;    // what the log says happened, e.g. "paused by the coordinator"
};

const StopAction& StopActionFor(StopReason reason);

// The reason a heartbeat reply gives. UNSPECIFIED (a coordinator older than
// the field) reads as kPaused: the conservative choice that keeps the
// checkpoint; the startup sweep and --checkpoint-max-bytes bound the cost.
StopReason StopReasonFromProto(moe4::v1::StopReason reason);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_AGENT_STOP_REASON_H_
