// An on-disk FIFO of one job's epoch reports that the coordinator has not
// acknowledged yet. Training appends after every epoch; the agent sends the
// whole queue in order and drops what was stored. Every change rewrites the
// file (temp file + rename; it is a few KB), so a crash keeps either the old
// or the new queue. Values are never recomputed: a re-sent epoch is
// byte-identical. Not thread-safe: owned by the agent thread running the job.
#ifndef MOE4_WORKER_AGENT_REPORT_QUEUE_H_
#define MOE4_WORKER_AGENT_REPORT_QUEUE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::worker {

class ReportQueue {
 public:
  // Loads `path` if it exists (reports left by an earlier run), else starts empty.
  explicit ReportQueue(std::string path);

  // Appends; an epoch already queued is replaced in place (same epoch, same slot).
  absl::Status Push(const moe4::v1::EpochMetrics& metrics);
  // Removes the first `count` reports (those the coordinator stored).
  absl::Status Drop(size_t count);
  absl::Status Clear();
  // Deletes the file (the job is over).
  void Remove();

  const std::vector<moe4::v1::EpochMetrics>& pending() const { return pending_; }
  bool empty() const { return pending_.empty(); }
  // Set when the file existed but could not be parsed (it was then ignored).
  const std::string& load_error() const { return load_error_; }

 private:
  absl::Status Save();

  std::string path_;
  std::vector<moe4::v1::EpochMetrics> pending_;
  std::string load_error_;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_AGENT_REPORT_QUEUE_H_
