// Runs one job's Trainer in a child process, so that whatever the job does
// to its process (a LibTorch abort, a crash in a kernel, exhausting the
// host's memory) ends that job and not the worker daemon.
//
// The child is this same executable started as `moe4-worker
// --trainer-process` (TrainerProcessMain below). It gets the job on its
// stdin, loads the dataset, trains with the ordinary Trainer and sends every
// hook (model built, progress, epoch metrics) and finally its outcome back
// over a pipe (trainer_process.proto). The daemon side turns those into
// calls of the caller's TrainerHooks, so Agent::RunJob handles a job the
// same way whether it trains in a thread or in a process.
//
// How a child can end, and what the daemon makes of it:
//   outcome sent            that outcome (an out-of-memory one names the
//                           process's limit when one was set)
//   stopped by the daemon   kStopped with the stop hook's reason; a child
//                           that does not stop within stop_grace is killed
//   killed by SIGKILL       kFailed, retryable, out of memory: the kernel's
//                           OOM killer (memory_needed_mb: its peak RSS)
//   other signal / exit     kFailed, retryable, naming the signal (SIGABRT:
//                           an abort in LibTorch or below) and the last epoch
// The child dies with the daemon (PR_SET_PDEATHSIG) and ignores SIGINT and
// SIGTERM: the daemon decides how a job stops (its stop hook).
//
// Memory: with memory_limit_mb and cgroups (--job-cgroup), the child runs in
// a memory cgroup of its own limited to memory_limit_mb (job_cgroup.h): it is
// moved there before it gets its job, the kernel kills it when the job needs
// more, and the cgroup says so (kFailed, retryable, out of memory, naming the
// limit and the peak). Without cgroups, or when the cgroup cannot be made,
// the child limits its own data segment (RLIMIT_DATA: heap and private
// anonymous mappings, which is what LibTorch allocates on the host), so an
// oversized job fails with "out of memory" inside the child, which reports it.
//
// Thread safety: RunInTrainerProcess may be called from several threads at
// once (one per job slot); each call owns its child. Hooks run on the
// calling thread.
#ifndef MOE4_WORKER_AGENT_TRAINER_PROCESS_H_
#define MOE4_WORKER_AGENT_TRAINER_PROCESS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "moe4/v1/moe4.pb.h"
#include "worker/agent/job_cgroup.h"
#include "worker/data/loader.h"
#include "worker/models/registry.h"
#include "worker/train/trainer.h"

namespace moe4::worker {

// The flag that makes moe4-worker a trainer process (argv[1]).
inline constexpr const char* kTrainerProcessFlag = "--trainer-process";

// Test-only fault injection, read by the child from its environment:
// MOE4_TRAINER_FAILPOINT=abort_in_first_attempt aborts (SIGABRT) after the
// first epoch of a job's first attempt, as a LibTorch abort would.
inline constexpr const char* kTrainerFailpointEnv = "MOE4_TRAINER_FAILPOINT";

struct TrainerProcessOptions {
  std::string executable;  // moe4-worker (the daemon's own binary: /proc/self/exe)
  std::string device = "cpu";
  int threads = 1;
  std::string checkpoint_path;
  int64_t memory_budget_mb = 0;  // TrainerOptions::memory_budget_mb
  int64_t memory_limit_mb = 0;   // --job-memory-max, 0 = none
  // --job-cgroup: where the limit becomes a memory cgroup; null = RLIMIT_DATA.
  std::shared_ptr<const JobCgroups> cgroups;
  LoadOptions load;              // how the child loads the dataset
  std::string log_level = "info";
  // After the stop hook fired, how long the child may take to stop.
  std::chrono::milliseconds stop_grace{std::chrono::seconds(60)};
};

// Trains `job` (validated, recipe defaults filled) in a child process.
// Never throws; a child that cannot be started is a retryable kFailed.
TrainOutcome RunInTrainerProcess(const TrainerProcessOptions& options, const moe4::v1::JobAssignment& job,
                                 const TrainerHooks& hooks);

// The child's main: reads the request from stdin, trains, reports on fd 3.
// Returns the process's exit code.
int TrainerProcessMain(const FamilyRegistry& registry);

// The path of the running executable (/proc/self/exe resolved), "" if unknown.
std::string CurrentExecutable();

}  // namespace moe4::worker

#endif  // MOE4_WORKER_AGENT_TRAINER_PROCESS_H_
