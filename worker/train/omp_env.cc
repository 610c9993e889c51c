#include "worker/train/omp_env.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace moe4::worker {
namespace {

// The first "flags" line of /proc/cpuinfo ("" when it cannot be read).
std::string CpuFlags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(colon + 1);
    }
  }
  return "";
}

// Sets `name` to `value` unless it is set already or value is empty.
bool SetIfUnset(const char* name, const std::string& value) {
  if (value.empty() || std::getenv(name) != nullptr) return false;
  return setenv(name, value.c_str(), 1) == 0;
}

}  // namespace

std::string OpenBlasCoreTypeForFlags(const std::string& flags) {
  std::set<std::string> have;
  std::istringstream words(flags);
  for (std::string w; words >> w;) have.insert(w);
  auto all = [&](std::initializer_list<const char*> need) {
    for (const char* n : need) {
      if (have.count(n) == 0) return false;
    }
    return true;
  };
  if (all({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})) return "SkylakeX";
  if (all({"avx2", "fma"})) return "Haswell";
  return "";
}

void PrepareCpuRuntime(char** argv) {
  bool changed = SetIfUnset("OMP_WAIT_POLICY", "PASSIVE");
  changed = SetIfUnset("OPENBLAS_CORETYPE", OpenBlasCoreTypeForFlags(CpuFlags())) || changed;
  if (!changed) return;
  execv("/proc/self/exe", argv);
  // Only reached if exec failed: carry on with what the libraries already read.
}

}  // namespace moe4::worker
