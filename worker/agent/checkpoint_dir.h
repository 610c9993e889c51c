// The worker's --checkpoint-dir: job-<id>.pt checkpoints, job-<id>.reports
// queues and job-<id>.pt.tmp files a crash left half written. Keeps the
// directory bounded: by size (--checkpoint-max-bytes, the oldest files of
// jobs not running here go first) and by age (a startup sweep of files of
// jobs that are no longer this worker's). Only files named job-<digits>.*
// are ever removed, so a directory shared with anything else is safe.
// Stateless apart from the path; safe from several threads as long as only
// one of them calls EnforceLimit or SweepOlderThan at a time.
#ifndef MOE4_WORKER_AGENT_CHECKPOINT_DIR_H_
#define MOE4_WORKER_AGENT_CHECKPOINT_DIR_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace moe4::worker {

class CheckpointDir {
 public:
  explicit CheckpointDir(std::string dir) : dir_(std::move(dir)) {}

  std::string CheckpointPath(int64_t job_id) const;
  std::string ReportsPath(int64_t job_id) const;

  // One file of the directory that belongs to a job.
  struct Entry {
    int64_t job_id = 0;
    std::filesystem::path path;
    uintmax_t bytes = 0;
    std::filesystem::file_time_type modified;
  };
  // The job files, oldest first.
  std::vector<Entry> List() const;
  // Bytes of the job files.
  uintmax_t UsageBytes() const;

  // Removes every file of the job (checkpoint, its temp file, report queue).
  void RemoveJob(int64_t job_id) const;
  void RemoveCheckpoint(int64_t job_id) const;

  // While the job files exceed `max_bytes` (0 = no bound), removes every file
  // of the job with the oldest file, never those of the jobs running here.
  // Returns the jobs removed; their checkpoints were of jobs that are either
  // finished elsewhere or will retrain the lost epochs when resumed.
  std::vector<int64_t> EnforceLimit(uintmax_t max_bytes, const std::set<int64_t>& running_job_ids) const;

  // Removes the files of every job whose newest file is older than `max_age`
  // (0 = keep everything). Run at startup, when no job runs here.
  std::vector<int64_t> SweepOlderThan(std::chrono::seconds max_age) const;

 private:
  std::string dir_;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_AGENT_CHECKPOINT_DIR_H_
