// Helpers shared by the worker tests: a scratch directory that removes itself
// and small job assignments that train in seconds on two cores.
#ifndef MOE4_TESTS_WORKER_TEST_UTIL_H_
#define MOE4_TESTS_WORKER_TEST_UTIL_H_

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "moe4/v1/moe4.pb.h"
#include "worker/train/recipe.h"

namespace moe4::worker::testing {

class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("moe4-worker-test-" + std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1)));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// A job on the synthetic set that trains in about a second per epoch.
inline moe4::v1::JobAssignment TinyJob(std::vector<std::string> families, int epochs, int train = 256, int test = 128) {
  moe4::v1::JobAssignment job;
  job.set_job_id(7);
  job.set_attempt(1);
  job.set_campaign_id(3);
  for (auto& f : families) job.add_families(f);
  *job.mutable_recipe() = DefaultRecipe();
  // The small-input designs: these tests are about training, not LEMUR parity.
  job.mutable_recipe()->set_catalogue(moe4::v1::EXPERT_CATALOGUE_ADAPTED);
  job.mutable_recipe()->set_epochs(epochs);
  job.mutable_recipe()->set_batch_size(32);
  job.mutable_recipe()->set_lr(3e-3);
  job.mutable_recipe()->set_warmup_epochs(0);
  job.mutable_recipe()->set_width(0.125);
  job.mutable_recipe()->set_seed(42);
  job.mutable_dataset()->set_name("synthetic:channels=1,size=28,classes=10");
  job.mutable_dataset()->set_train_subset(train);
  job.mutable_dataset()->set_test_subset(test);
  job.set_lease_seconds(30);
  return job;
}

// Every metric except the wall-clock ones.
inline moe4::v1::EpochMetrics Timeless(moe4::v1::EpochMetrics m) {
  m.clear_epoch_seconds();
  m.clear_images_per_second();
  m.clear_peak_memory_bytes();
  return m;
}

// The moe4-worker binary beside this test binary in the build tree
// (build/tests/worker/ -> build/worker/), which trainer processes run.
inline std::string WorkerBinary() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / ".." / ".." / "worker" / "moe4-worker").lexically_normal().string();
}

}  // namespace moe4::worker::testing

#endif  // MOE4_TESTS_WORKER_TEST_UTIL_H_
