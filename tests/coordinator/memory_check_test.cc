// CheckCampaignMemory (coordinator/scheduler/memory_check.h) against lists of
// registered workers, table-driven: what is refused, what is accepted, and
// which warnings say why. Pure; no database (memory_admission_test.cc goes
// through Submit over PostgreSQL).
#include "coordinator/scheduler/memory_check.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "coordinator/scheduler/campaign_planner.h"

namespace moe4::coordinator {
namespace {

// The example: width 4, batch 4096, resize 512, Swin + ViT.
constexpr char kHostile[] =
    "name: hostile\nfamilies: [SwinTransformer, VisionTransformer]\nk: 2\nbudget: 1\n"
    "dataset: {name: cifar10, resize: 512}\nrecipe: {batch_size: 4096, width: 4}\n";
// The published recipe on the same pair: well under a GiB of activations.
constexpr char kNormal[] =
    "name: normal\nfamilies: [SwinTransformer, VisionTransformer]\nk: 2\nbudget: 1\ndataset: {name: cifar10}\n";
constexpr char kCudaOnly[] =
    "name: cuda\nfamilies: [ResNet, VGG]\nk: 2\nbudget: 1\ndataset: {name: cifar10}\n"
    "requirements: {device_kind: cuda}\n";

moe4::v1::WorkerInfo Worker(const std::string& name, const std::string& kind, int64_t mb, bool alive = true) {
  moe4::v1::WorkerInfo w;
  w.set_name(name);
  w.set_device_kind(kind);
  w.set_device_memory_mb(mb);
  w.set_alive(alive);
  return w;
}

struct Case {
  const char* what;
  const char* spec;
  std::vector<moe4::v1::WorkerInfo> workers;
  bool refused;
  std::vector<std::string> expect;  // substrings of the error, or of the warnings joined
};

TEST(CheckCampaignMemory, RefusesOnlyWhatNoRegisteredWorkerCouldHold) {
  const std::vector<Case> cases = {
      {"hostile, no worker registered: accepted with a warning", kHostile, {}, false,
       {"no worker is registered yet", "SwinTransformer + VisionTransformer"}},
      {"hostile on an 80 GiB GPU: refused naming the fields and the worker",
       kHostile,
       {Worker("gpu-a", "cuda", 81920), Worker("cpu-b", "cpu", 24000)},
       true,
       {"recipe.batch_size 4096", "dataset.resize 512", "recipe.width 4", "worker 'gpu-a'", "81920 MiB",
        "1 of 1 jobs would not fit"}},
      {"hostile, a worker that reports no memory: accepted, not checked", kHostile,
       {Worker("gpu-a", "cuda", 81920), Worker("mystery", "cuda", 0)}, false, {"report no device memory"}},
      {"normal on an 8 GiB GPU: accepted, no warning", kNormal, {Worker("gpu-a", "cuda", 8192)}, false, {}},
      {"normal, a 1 GiB worker beside an 8 GiB one: accepted, warned", kNormal,
       {Worker("gpu-a", "cuda", 8192), Worker("tiny", "cpu", 1024)}, false,
       {"1 of 2 registered worker(s) have less"}},
      {"a dead worker counts: it may come back", kNormal,
       {Worker("tiny", "cpu", 1024), Worker("gpu-down", "cuda", 8192, false)}, false, {"1 of 2"}},
      {"normal on a 1 GiB worker alone: refused", kNormal, {Worker("tiny", "cpu", 1024)}, true,
       {"worker 'tiny'", "1024 MiB"}},
      {"cuda-only spec: a large cpu worker does not count", kCudaOnly, {Worker("cpu-big", "cpu", 1 << 20)}, false,
       {"no worker of device kind cuda is registered yet"}},
      {"cuda-only spec: a small cuda worker refuses it despite a large cpu one", kCudaOnly,
       {Worker("cpu-big", "cpu", 1 << 20), Worker("gpu-small", "cuda", 600)}, true,
       {"worker of device kind cuda", "worker 'gpu-small'"}},
  };
  for (const Case& c : cases) {
    auto plan = PlanCampaign(c.spec, SpecLimits{});
    ASSERT_TRUE(plan.ok()) << c.what << ": " << plan.status();
    auto check = CheckCampaignMemory(*plan, c.workers);
    std::string text;
    if (c.refused) {
      ASSERT_FALSE(check.ok()) << c.what;
      EXPECT_EQ(check.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
      text = std::string(check.status().message());
      EXPECT_EQ(text.rfind("memory: ", 0), 0u) << text;
    } else {
      ASSERT_TRUE(check.ok()) << c.what << ": " << check.status();
      EXPECT_GT(check->heaviest_mb, 512) << c.what;
      for (const auto& w : check->warnings) text += w + "\n";
      if (c.expect.empty()) {
        EXPECT_TRUE(check->warnings.empty()) << c.what << ": " << text;
      }
    }
    for (const auto& e : c.expect) EXPECT_NE(text.find(e), std::string::npos) << c.what << ": no \"" << e << "\" in " << text;
  }
}

// precision auto is mixed on a GPU only: the same job needs less on cuda
// than the kind-neutral figure, and each worker is compared with its kind's.
TEST(CheckCampaignMemory, ComparesEachWorkerWithItsOwnKindsEstimate) {
  auto plan = PlanCampaign(
      "name: a\nfamilies: [FractalNet, SwinTransformer]\nk: 2\nbudget: 1\ndataset: {name: cifar10, resize: 64}\n"
      "recipe: {batch_size: 512}\n",
      SpecLimits{});
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto neutral = CheckCampaignMemory(*plan, {});
  auto cuda = CheckCampaignMemory(*plan, {Worker("gpu", "cuda", 1 << 20)});
  auto cpu = CheckCampaignMemory(*plan, {Worker("cpu", "cpu", 1 << 20)});
  ASSERT_TRUE(neutral.ok() && cuda.ok() && cpu.ok());
  EXPECT_LT(cuda->heaviest_mb, cpu->heaviest_mb);
  EXPECT_LE(cpu->heaviest_mb, neutral->heaviest_mb);
  // A GPU with room for the mixed-precision figure but not the fp32 one.
  const int64_t between = (cuda->heaviest_mb + cpu->heaviest_mb) / 2;
  EXPECT_TRUE(CheckCampaignMemory(*plan, {Worker("gpu", "cuda", between)}).ok());
  EXPECT_FALSE(CheckCampaignMemory(*plan, {Worker("cpu", "cpu", between)}).ok());
}

}  // namespace
}  // namespace moe4::coordinator
