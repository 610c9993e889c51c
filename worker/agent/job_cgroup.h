// A memory cgroup per trainer process, so that --job-memory-max bounds what
// a job really holds (resident memory, page cache it dirties, kernel memory
// charged to it) instead of its address space, and so that the kernel's
// out-of-memory killer, when the limit is reached, takes that job's process
// and never the daemon.
//
// JobCgroups is the directory the operator delegated to the worker
// (--job-cgroup DIR): a cgroup v2 directory whose parent offers the memory
// controller (systemd: Delegate=yes; the unit's own cgroup works), or a
// directory of a cgroup v1 memory hierarchy. In a v2 directory that holds
// the daemon itself, Open moves the daemon into DIR/daemon first: v2 lets
// only a cgroup without processes of its own give controllers to children.
// Each job then gets DIR/job-<job id>-<n> with
//   v2: memory.max = limit, memory.swap.max = 0, memory.oom.group = 1
//   v1: memory.limit_in_bytes = memory.memsw.limit_in_bytes = limit
// and the directory is removed when the JobCgroup is destroyed (after its
// process was reaped). SweepStale removes job cgroups a previous daemon left.
//
// How a job ended is read back from the cgroup: the kernel's OOM kills in it
// (v2 memory.events oom_kill, v1 memory.oom_control oom_kill) and its peak
// usage (v2 memory.peak where the kernel has it, v1 memory.max_usage_in_bytes).
//
// Thread safety: JobCgroups is immutable after Open and may be shared by the
// job slots; each JobCgroup belongs to the one thread running its job.
#ifndef MOE4_WORKER_AGENT_JOB_CGROUP_H_
#define MOE4_WORKER_AGENT_JOB_CGROUP_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace moe4::worker {

enum class CgroupVersion { kV1, kV2 };

// What a job's cgroup saw, read after its process ended.
struct JobCgroupUsage {
  bool oom_killed = false;         // the kernel killed a process of it for its limit
  std::optional<int64_t> peak_mb;  // its highest usage, where the kernel keeps it
};

class JobCgroup;

class JobCgroups {
 public:
  // Opens `dir` for the jobs' cgroups ("self": this process's own cgroup,
  // what systemd's Delegate=yes gives a unit); an error names the directory
  // and what is missing (not a cgroup, no memory controller, not writable).
  static absl::StatusOr<std::shared_ptr<const JobCgroups>> Open(const std::string& dir);

  // A new cgroup for one attempt of `job_id`, limited to `limit_mb`.
  absl::StatusOr<std::unique_ptr<JobCgroup>> Create(int64_t job_id, int64_t limit_mb) const;

  // Removes the job-* cgroups in the directory that hold no process and
  // whose daemon is gone (left by a daemon that died); returns how many went.
  int SweepStale() const;

  CgroupVersion version() const { return version_; }
  const std::string& dir() const { return dir_; }

 private:
  JobCgroups(std::string dir, CgroupVersion version) : dir_(std::move(dir)), version_(version) {}
  std::string dir_;
  CgroupVersion version_;
  mutable std::atomic<int64_t> next_{0};
};

class JobCgroup {
 public:
  ~JobCgroup();  // removes the cgroup (it must hold no live process by then)
  JobCgroup(const JobCgroup&) = delete;
  JobCgroup& operator=(const JobCgroup&) = delete;

  // Moves `pid` into the cgroup.
  absl::Status Add(pid_t pid) const;
  JobCgroupUsage Usage() const;
  int64_t limit_mb() const { return limit_mb_; }
  const std::string& path() const { return path_; }
  // "cgroup v2 memory.max" or "cgroup v1 memory.limit_in_bytes", for messages.
  std::string LimitName() const;

 private:
  friend class JobCgroups;
  JobCgroup(std::string path, CgroupVersion version, int64_t limit_mb)
      : path_(std::move(path)), version_(version), limit_mb_(limit_mb) {}
  std::string path_;
  CgroupVersion version_;
  int64_t limit_mb_;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_AGENT_JOB_CGROUP_H_
