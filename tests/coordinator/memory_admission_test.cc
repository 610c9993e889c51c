// Submit's memory admission over a real coordinator and PostgreSQL: with a
// registered worker too small for it, the hostile spec (width 4,
// batch 4096, resize 512, SwinTransformer + VisionTransformer) is refused,
// dry run or not, with a message naming the fields and the worker, and
// nothing is created; a normal spec is accepted with its estimate; with no
// worker registered the hostile spec is accepted with a warning.
#include <gtest/gtest.h>

#include <iostream>

#include "tests/coordinator/service_fixture.h"

namespace moe4::coordinator {
namespace {

constexpr char kHostile[] =
    "name: hostile\nfamilies: [SwinTransformer, VisionTransformer]\nk: 2\nbudget: 1\n"
    "dataset: {name: cifar10, resize: 512}\nrecipe: {batch_size: 4096, width: 4, epochs: 1}\n";
constexpr char kNormal[] =
    "name: normal\nfamilies: [SwinTransformer, VisionTransformer]\nk: 2\nbudget: 1\n"
    "dataset: {name: cifar10}\nrecipe: {epochs: 1}\n";

class MemoryAdmissionTest : public ServiceFixture {
 protected:
  void RegisterWithMemory(const std::string& name, const std::string& kind, int64_t mb) {
    moe4::v1::RegisterRequest req;
    req.set_name(name);
    req.set_device_kind(kind);
    req.set_device_memory_mb(mb);
    req.set_threads(2);
    moe4::v1::RegisterResponse resp;
    auto ctx = Context(kWorkerToken);
    ASSERT_TRUE(worker_->Register(ctx.get(), req, &resp).ok());
  }

  std::string Campaigns() {
    return testing::QueryOne(db_.url(), "SELECT count(*) || ' campaigns, ' || (SELECT count(*) FROM jobs) || ' jobs' FROM campaigns");
  }
};

TEST_F(MemoryAdmissionTest, RefusesTheHostileSpecAndAcceptsANormalOne) {
  RegisterWithMemory("box1-gpu0", "cuda", 24564);
  for (bool dry_run : {true, false}) {
    moe4::v1::SubmitResponse resp;
    const grpc::Status s = Submit(kHostile, dry_run, &resp);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "dry_run " << dry_run << ": " << s.error_message();
    if (dry_run) std::cout << "refusal: " << s.error_message() << "\n";  // docs/spec.md quotes it
    for (const char* part : {"memory: recipe.batch_size x dataset.resize x recipe.width", "SwinTransformer + VisionTransformer",
                             "recipe.batch_size 4096", "dataset.resize 512", "recipe.width 4",
                             "the largest registered worker has (24564 MiB, worker 'box1-gpu0')"}) {
      EXPECT_NE(s.error_message().find(part), std::string::npos) << "no \"" << part << "\" in " << s.error_message();
    }
  }
  EXPECT_EQ(Campaigns(), "0 campaigns, 0 jobs");

  moe4::v1::SubmitResponse ok;
  const grpc::Status s = Submit(kNormal, false, &ok);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(ok.campaign_id(), 0);
  EXPECT_GT(ok.memory_estimate_mb(), 512);
  EXPECT_LT(ok.memory_estimate_mb(), 24564);
  EXPECT_EQ(ok.memory_estimate_families_size(), 2);
  EXPECT_EQ(ok.warnings_size(), 0) << ok.warnings(0);
  EXPECT_EQ(Campaigns(), "1 campaigns, 1 jobs");
}

TEST_F(MemoryAdmissionTest, WithNoWorkerRegisteredAcceptsButWarns) {
  moe4::v1::SubmitResponse resp;
  const grpc::Status s = Submit(kHostile, true, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(resp.memory_estimate_mb(), 1024 * 1024);
  ASSERT_EQ(resp.warnings_size(), 1);
  EXPECT_NE(resp.warnings(0).find("no worker is registered yet"), std::string::npos) << resp.warnings(0);
}

}  // namespace
}  // namespace moe4::coordinator
