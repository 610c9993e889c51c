// CPU time read from /proc, for charging a measured window to the processes
// that spent it: the coordinator, the PostgreSQL server (postmaster and its
// backends), the benchmark itself, and the whole machine (to show how busy the
// box was). Linux only. Stateless functions; safe for concurrent use.
#pragma once

#include <sys/types.h>

#include <optional>

namespace moe4::bench {

// user + system CPU seconds of one process (all its threads) so far, from
// /proc/PID/stat; nullopt when the process is gone or unreadable.
std::optional<double> ProcessCpuSeconds(pid_t pid);

// The parent of `pid`, from /proc/PID/stat; nullopt when unreadable.
std::optional<pid_t> ParentPid(pid_t pid);

// user + system CPU seconds of `root` plus every live direct child. For a
// PostgreSQL postmaster that is the server's CPU (backends, checkpointer, WAL
// writer, ...). A child that exits inside a window takes its CPU with it, so
// the figure is a lower bound when connections come and go.
std::optional<double> ProcessTreeCpuSeconds(pid_t root);

// Machine-wide CPU from /proc/stat, in seconds summed over all cores.
struct MachineCpu {
  double busy = 0;   // everything but idle and iowait
  double total = 0;  // all states
};
std::optional<MachineCpu> ReadMachineCpu();

}  // namespace moe4::bench
