#include "worker/train/recipe.h"

#include <gtest/gtest.h>

namespace moe4::worker {
namespace {

TEST(RecipeTest, DefaultsFollowTheDesign) {
  const auto r = DefaultRecipe();
  EXPECT_DOUBLE_EQ(r.gate_lr_scale(), 2.0);
  EXPECT_DOUBLE_EQ(r.weight_decay(), 5e-4);
  EXPECT_EQ(r.warmup_epochs(), 5);
  EXPECT_DOUBLE_EQ(r.min_lr(), 1e-6);
  EXPECT_DOUBLE_EQ(r.load_balance_weight(), 0.01);
  EXPECT_DOUBLE_EQ(r.label_smoothing(), 0.1);
  EXPECT_DOUBLE_EQ(r.mixup_alpha(), 0.2);
  EXPECT_TRUE(ValidateRecipe(r).ok());
}

TEST(RecipeTest, ZeroMeansUnsetOnlyWhereZeroIsIllegal) {
  moe4::v1::Recipe r;
  FillRecipeDefaults(&r);
  EXPECT_EQ(r.epochs(), 10);
  EXPECT_DOUBLE_EQ(r.gate_temperature(), 2.0);
  EXPECT_DOUBLE_EQ(r.width(), 1.0);
  EXPECT_DOUBLE_EQ(r.mixup_alpha(), 0.0);  // 0 = off stays off
  EXPECT_DOUBLE_EQ(r.load_balance_weight(), 0.0);
  EXPECT_TRUE(ValidateRecipe(r).ok());
}

TEST(RecipeTest, ValidationNamesTheField) {
  auto check = [](auto mutate, const std::string& field) {
    auto r = DefaultRecipe();
    mutate(r);
    auto s = ValidateRecipe(r);
    ASSERT_FALSE(s.ok()) << field;
    EXPECT_NE(std::string(s.message()).find("recipe." + field), std::string::npos) << s;
  };
  check([](auto& r) { r.set_lr(-1); }, "lr");
  check([](auto& r) { r.set_epochs(0); }, "epochs");
  check([](auto& r) { r.set_gate_temperature(9); }, "gate_temperature");
  check([](auto& r) { r.set_label_smoothing(1.0); }, "label_smoothing");
  check([](auto& r) { r.set_width(std::nan("")); }, "width");
  check([](auto& r) { r.set_beta2(1.0); }, "beta2");
}

TEST(RecipeTest, JobValidationRejectsUnknownAndDuplicateFamilies) {
  moe4::v1::JobAssignment job;
  *job.mutable_recipe() = DefaultRecipe();
  job.mutable_dataset()->set_name("synthetic");
  job.add_families("AirNet");
  EXPECT_TRUE(ValidateJob(job, BuiltinRegistry()).ok());
  job.add_families("AirNet");
  EXPECT_NE(std::string(ValidateJob(job, BuiltinRegistry()).message()).find("twice"), std::string::npos);
  job.set_families(1, "Transformer9000");
  EXPECT_NE(std::string(ValidateJob(job, BuiltinRegistry()).message()).find("unknown family 'Transformer9000'"),
            std::string::npos);
}

}  // namespace
}  // namespace moe4::worker
