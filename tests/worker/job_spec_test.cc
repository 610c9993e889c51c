#include "worker/train/job_spec.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "worker/train/recipe.h"

namespace moe4::worker {
namespace {

TEST(JobSpecTest, ParsesAndKeepsDefaults) {
  auto job = ParseJobSpec(R"(
families: [AirNet, BagNet]
dataset: {name: fashion-mnist, train_subset: 100, resize: 32}
recipe: {epochs: 3, lr: 0.01, seed: 9, gate_top_k: 1}
)");
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(job->families_size(), 2);
  EXPECT_EQ(job->families(1), "BagNet");
  EXPECT_EQ(job->dataset().name(), "fashion-mnist");
  EXPECT_EQ(job->dataset().train_subset(), 100);
  EXPECT_EQ(job->dataset().resize(), 32);
  EXPECT_EQ(job->recipe().epochs(), 3);
  EXPECT_DOUBLE_EQ(job->recipe().lr(), 0.01);
  EXPECT_EQ(job->recipe().seed(), 9u);
  EXPECT_EQ(job->recipe().gate_top_k(), 1);
  EXPECT_DOUBLE_EQ(job->recipe().mixup_alpha(), 0.2);       // default
  EXPECT_DOUBLE_EQ(job->recipe().gate_temperature(), 2.0);  // default
  EXPECT_EQ(job->recipe().precision(), moe4::v1::PRECISION_AUTO);  // default
}

TEST(JobSpecTest, PrecisionReadsTheSpecsWords) {
  auto job = ParseJobSpec("families: [AirNet]\ndataset: {name: mnist}\nrecipe: {precision: bf16}\n");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->recipe().precision(), moe4::v1::PRECISION_BF16);
  auto bad = ParseJobSpec("families: [AirNet]\ndataset: {name: mnist}\nrecipe: {precision: PRECISION_BF16}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("recipe.precision: expected fp32, bf16, fp16 or auto"),
            std::string::npos)
      << bad.status();
}

TEST(JobSpecTest, ErrorsNameTheKey) {
  struct Case {
    const char* yaml;
    const char* expect;
  } cases[] = {
      {"families: [AirNet]\ndataset: {name: mnist}\nrecipe: {learning_rate: 1}", "recipe.learning_rate: unknown field"},
      {"families: [AirNet]\ndataset: {name: mnist}\nrecipe: {epochs: lots}", "recipe.epochs"},
      {"families: AirNet\ndataset: {name: mnist}", "families"},
      {"families: [AirNet]\ndataset: {name: mnist}\nfoo: 1", "foo: unknown key"},
      {"dataset: {name: mnist}", "families: missing"},
      {"families: [AirNet]\n", "dataset.name: missing"},
      {"families: [AirNet\n", "invalid YAML"},
      {"families: [AirNet]\ndataset: {name: mnist}\nfamilies: [BagNet]\n", "families: duplicate key (lines 1 and 3)"},
      {"families: [AirNet]\ndataset: {name: mnist}\nrecipe:\n  lr: 0.1\n  lr: 0.2\n",
       "recipe.lr: duplicate key (lines 4 and 5)"},
  };
  for (const auto& c : cases) {
    auto job = ParseJobSpec(c.yaml);
    ASSERT_FALSE(job.ok()) << c.yaml;
    EXPECT_NE(std::string(job.status().message()).find(c.expect), std::string::npos) << job.status();
  }
}

TEST(JobSpecTest, ExampleSpecIsValid) {
  // Not __FILE__: ccache's CCACHE_BASEDIR (deploy/build.sh) makes it relative.
  const std::filesystem::path root = MOE4_SOURCE_DIR;
  auto job = LoadJobSpecFile((root / "worker/examples/train_fashion_mnist.yaml").string());
  ASSERT_TRUE(job.ok()) << job.status();
  FillRecipeDefaults(job->mutable_recipe());
  EXPECT_TRUE(ValidateJob(*job, BuiltinRegistry()).ok());
}

}  // namespace
}  // namespace moe4::worker
