// The CPU runtime settings that libgomp and OpenBLAS read once, when they are
// loaded, so that the only way to change them from inside is to re-execute
// ourselves with the variables set (same PID, same arguments):
//
// - OMP_WAIT_POLICY=PASSIVE. libgomp's default lets idle team threads spin;
//   when other processes share the cores (CI, a laptop, two workers on one
//   box) the spinning threads steal the very cycles their team waits for, and
//   training runs 3-4x slower (measured: 43 vs 170 images/s on 2 loaded
//   cores). On an idle dedicated box ACTIVE is ~35 % faster: set
//   OMP_WAIT_POLICY=ACTIVE in the worker's environment there.
// - OPENBLAS_CORETYPE from the CPU's flags. Debian 12's OpenBLAS 0.3.21 does
//   not recognise recent Xeons under a hypervisor and falls back to its
//   Prescott (SSE3) kernels: SGEMM 75 instead of 331 GFLOP/s on 2 cores
//   (bench/training). Its DYNAMIC_ARCH build honours OPENBLAS_CORETYPE, and a
//   kernel family the flags guarantee is never slower than the fallback.
//
// Variables the user set are left alone. Called first thing in main(); not
// thread-safe.
#ifndef MOE4_WORKER_TRAIN_OMP_ENV_H_
#define MOE4_WORKER_TRAIN_OMP_ENV_H_

#include <string>

namespace moe4::worker {

// Sets the variables above that are unset and, if it set any, execv()s
// /proc/self/exe with the same arguments. Returns normally when nothing was
// missing (the user's settings, or after the re-exec) or the re-exec failed
// (then training merely runs with the defaults libgomp and OpenBLAS chose).
void PrepareCpuRuntime(char** argv);

// The OpenBLAS kernel family for a /proc/cpuinfo "flags" line: "SkylakeX"
// with AVX-512 (F, CD, BW, DQ, VL), "Haswell" with AVX2 and FMA, else ""
// (leave OpenBLAS's own detection alone).
std::string OpenBlasCoreTypeForFlags(const std::string& flags);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_OMP_ENV_H_
