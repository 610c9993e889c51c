// OpenMP wait policy for CPU training. libgomp's default lets idle team
// threads spin; when other processes share the cores (CI, a laptop, two
// workers on one box) the spinning threads steal the very cycles their team
// waits for, and training runs 3-4x slower (measured: 43 vs 170 images/s on
// 2 loaded cores). libgomp reads OMP_WAIT_POLICY once, when it is loaded,
// so the only way to change it from inside is to re-execute ourselves with
// the variable set. Called first thing in main(); not thread-safe.
#ifndef MOE4_WORKER_TRAIN_OMP_ENV_H_
#define MOE4_WORKER_TRAIN_OMP_ENV_H_

namespace moe4::worker {

// If OMP_WAIT_POLICY is unset, sets it to PASSIVE and execv()s
// /proc/self/exe with the same arguments (same PID). Returns normally when
// the variable was already set (by the user or by the re-exec) or the
// re-exec failed (then training merely runs with spinning threads).
void EnsurePassiveOmpWaitPolicy(char** argv);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_OMP_ENV_H_
