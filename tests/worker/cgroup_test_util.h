// A scratch cgroup directory for tests of per-job memory cgroups
// (worker/agent/job_cgroup.h), made where this machine allows one: under the
// test's own cgroup v2 directory when that can hand out the memory
// controller, else in a cgroup v1 memory hierarchy (root in a container).
// Where neither works the tests that need it skip and say why.
#ifndef MOE4_TESTS_WORKER_CGROUP_TEST_UTIL_H_
#define MOE4_TESTS_WORKER_CGROUP_TEST_UTIL_H_

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "worker/agent/job_cgroup.h"

namespace moe4::worker::testing {

class ScratchCgroup {
 public:
  // Tries each candidate; `why()` says what failed when none worked.
  ScratchCgroup() {
    for (const std::string& base : Candidates()) {
      const std::string dir = base + "/moe4-test-" + std::to_string(::getpid()) + "-" + std::to_string(next_++);
      std::error_code ec;
      if (!std::filesystem::create_directory(dir, ec)) {
        why_ += base + ": " + (ec ? ec.message() : "exists") + "; ";
        continue;
      }
      auto opened = JobCgroups::Open(dir);
      if (opened.ok()) {
        dir_ = dir;
        cgroups_ = *opened;
        return;
      }
      why_ += std::string(opened.status().message()) + "; ";
      RemoveTree(dir);
    }
  }
  ~ScratchCgroup() {
    if (!dir_.empty()) RemoveTree(dir_);
  }
  std::shared_ptr<const JobCgroups> cgroups() const { return cgroups_; }
  const std::string& dir() const { return dir_; }
  std::string why() const { return "no writable memory cgroup here: " + why_; }

  // The job-* cgroups in the directory (what a job left behind).
  std::vector<std::string> JobEntries() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
      if (e.path().filename().string().rfind("job-", 0) == 0) out.push_back(e.path().string());
    }
    return out;
  }

 private:
  static std::vector<std::string> Candidates() {
    std::vector<std::string> out;
    std::ifstream self("/proc/self/cgroup");
    for (std::string line; std::getline(self, line);) {
      if (line.rfind("0::", 0) == 0 && std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers")) {
        out.push_back("/sys/fs/cgroup" + line.substr(3));
      }
    }
    if (std::filesystem::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes")) out.push_back("/sys/fs/cgroup/memory");
    return out;
  }
  // Cgroup directories are removed with rmdir, children first.
  static void RemoveTree(const std::string& dir) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (e.is_directory(ec)) RemoveTree(e.path().string());
    }
    ::rmdir(dir.c_str());
  }
  static inline int next_ = 0;
  std::string dir_, why_;
  std::shared_ptr<const JobCgroups> cgroups_;
};

}  // namespace moe4::worker::testing

#endif  // MOE4_TESTS_WORKER_CGROUP_TEST_UTIL_H_
