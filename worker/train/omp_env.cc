#include "worker/train/omp_env.h"

#include <unistd.h>

#include <cstdlib>

namespace moe4::worker {

void EnsurePassiveOmpWaitPolicy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Only reached if exec failed: carry on with the policy libgomp already read.
}

}  // namespace moe4::worker
