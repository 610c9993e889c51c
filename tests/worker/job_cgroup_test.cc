// Per-job memory cgroups (worker/agent/job_cgroup.h) on this machine's real
// cgroup filesystem: a process over its limit is killed by the kernel and
// the cgroup says so, one under it is not, and nothing is left behind.
#include "worker/agent/job_cgroup.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "cgroup_test_util.h"

namespace moe4::worker {
namespace {

using testing::ScratchCgroup;

// Forks a child that waits until it has been moved into `cgroup`, then
// touches `megabytes` of anonymous memory and exits 0. Returns its wait status.
int RunChildTouching(const JobCgroup& cgroup, int64_t megabytes) {
  int go[2];
  if (::pipe(go) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only system calls after fork: this test process has threads.
    ::close(go[1]);
    char byte;
    if (::read(go[0], &byte, 1) != 1) ::_exit(3);
    const size_t size = static_cast<size_t>(megabytes) << 20;
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) ::_exit(4);
    std::memset(p, 1, size);
    ::_exit(0);
  }
  ::close(go[0]);
  const absl::Status added = cgroup.Add(pid);
  EXPECT_TRUE(added.ok()) << added;
  (void)!::write(go[1], "g", 1);
  ::close(go[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(JobCgroupTest, AProcessOverItsLimitIsKilledAndTheCgroupSaysSo) {
  ScratchCgroup scratch;
  if (!scratch.cgroups()) GTEST_SKIP() << scratch.why();
  std::string path;
  {
    auto cgroup = scratch.cgroups()->Create(7, 64);
    ASSERT_TRUE(cgroup.ok()) << cgroup.status();
    path = (*cgroup)->path();
    EXPECT_TRUE(std::filesystem::is_directory(path));
    EXPECT_EQ((*cgroup)->limit_mb(), 64);
    const int status = RunChildTouching(**cgroup, 256);
    ASSERT_TRUE(WIFSIGNALED(status)) << "exited with " << WEXITSTATUS(status) << " over a 64 MiB limit";
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    const JobCgroupUsage usage = (*cgroup)->Usage();
    EXPECT_TRUE(usage.oom_killed);
    if (usage.peak_mb) {
      EXPECT_GE(*usage.peak_mb, 48);
      EXPECT_LE(*usage.peak_mb, 64);
    }
    EXPECT_NE((*cgroup)->LimitName().find("cgroup v"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "the job's cgroup outlived it";
}

TEST(JobCgroupTest, AProcessUnderItsLimitRunsAndIsNotCountedAsKilled) {
  ScratchCgroup scratch;
  if (!scratch.cgroups()) GTEST_SKIP() << scratch.why();
  auto cgroup = scratch.cgroups()->Create(8, 256);
  ASSERT_TRUE(cgroup.ok()) << cgroup.status();
  const int status = RunChildTouching(**cgroup, 32);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const JobCgroupUsage usage = (*cgroup)->Usage();
  EXPECT_FALSE(usage.oom_killed);
  if (usage.peak_mb) {
    EXPECT_GE(*usage.peak_mb, 32);
  }
}

TEST(JobCgroupTest, TwoJobsGetTwoCgroupsAndTheSweepTakesOnlyADeadDaemonsLeftovers) {
  ScratchCgroup scratch;
  if (!scratch.cgroups()) GTEST_SKIP() << scratch.why();
  auto a = scratch.cgroups()->Create(9, 128);
  auto b = scratch.cgroups()->Create(9, 128);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE((*a)->path(), (*b)->path());
  // A daemon that died (no such pid) left an empty job cgroup; this live
  // daemon's are not touched, empty (b, about to get its process) or not.
  const std::string left = scratch.dir() + "/job-1-999999999-0";
  ASSERT_TRUE(std::filesystem::create_directory(left));
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    char byte;
    (void)!::read(go[0], &byte, 1);
    ::_exit(0);
  }
  ASSERT_TRUE((*a)->Add(pid).ok());
  EXPECT_EQ(scratch.cgroups()->SweepStale(), 1);
  EXPECT_TRUE(std::filesystem::exists((*a)->path()));
  EXPECT_TRUE(std::filesystem::exists((*b)->path()));
  EXPECT_FALSE(std::filesystem::exists(left));
  (void)!::write(go[1], "x", 1);
  ::waitpid(pid, nullptr, 0);
}

TEST(JobCgroupTest, OpenNamesTheDirectoryAndWhatIsWrong) {
  auto missing = JobCgroups::Open("/nonexistent/moe4-cgroup");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--job-cgroup /nonexistent/moe4-cgroup"), std::string::npos)
      << missing.status();
  const std::string plain = ::testing::TempDir();
  auto not_cgroup = JobCgroups::Open(plain);
  ASSERT_FALSE(not_cgroup.ok());
  EXPECT_NE(not_cgroup.status().message().find("neither a cgroup v2 directory nor a cgroup v1 memory cgroup"),
            std::string::npos)
      << not_cgroup.status();
}

}  // namespace
}  // namespace moe4::worker
