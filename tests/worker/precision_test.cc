// Mixed precision (worker/train/precision.h) and the training step in it:
// what each recipe.precision resolves to, that autocast is on exactly inside
// its scope, that the loss scaler unscales, skips overflowing steps and
// adapts its scale as GradScaler does, that clipping on the device equals
// LibTorch's clip_grad_norm_, and that a bf16 step on the CPU trains the same
// network as fp32 up to bf16 rounding. fp16 needs a GPU (tests/gpu).
#include "worker/train/precision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/precision_name.h"
#include "test_util.h"
#include "worker/train/training_core.h"

namespace moe4::worker {
namespace {

TEST(PrecisionTest, SpecNamesRoundTrip) {
  for (const char* name : {"fp32", "bf16", "fp16", "auto"}) {
    const auto parsed = ParsePrecisionSpecName(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(PrecisionSpecName(*parsed), name);
  }
  EXPECT_FALSE(ParsePrecisionSpecName("half").has_value());
  EXPECT_FALSE(ParsePrecisionSpecName("FP32").has_value());
  EXPECT_EQ(PrecisionSpecName(moe4::v1::PRECISION_UNSPECIFIED), "fp32");
}

TEST(PrecisionTest, WhatEachSettingMeansOnTheCpu) {
  const torch::Device cpu(torch::kCPU);
  EXPECT_EQ(*ResolvePrecision(moe4::v1::PRECISION_AUTO, cpu), Precision::kFp32);
  EXPECT_EQ(*ResolvePrecision(moe4::v1::PRECISION_UNSPECIFIED, cpu), Precision::kFp32);
  EXPECT_EQ(*ResolvePrecision(moe4::v1::PRECISION_FP32, cpu), Precision::kFp32);
  EXPECT_EQ(*ResolvePrecision(moe4::v1::PRECISION_BF16, cpu), Precision::kBf16);
  const auto fp16 = ResolvePrecision(moe4::v1::PRECISION_FP16, cpu);
  ASSERT_FALSE(fp16.ok());
  EXPECT_NE(std::string(fp16.status().message()).find("recipe.precision: fp16 runs only on a GPU"), std::string::npos)
      << fp16.status();
}

TEST(PrecisionTest, AutocastIsOnOnlyInsideItsScope) {
  torch::manual_seed(1);
  torch::nn::Linear linear(8, 4);
  const auto x = torch::randn({2, 8});
  EXPECT_EQ(linear->forward(x).scalar_type(), torch::kFloat);
  {
    AutocastScope bf16(torch::kCPU, Precision::kBf16);
    EXPECT_EQ(linear->forward(x).scalar_type(), torch::kBFloat16);
    {
      AutocastScope fp32(torch::kCPU, Precision::kFp32);  // does nothing
      EXPECT_EQ(linear->forward(x).scalar_type(), torch::kBFloat16);
    }
  }
  EXPECT_EQ(linear->forward(x).scalar_type(), torch::kFloat);
  // The weights themselves were never converted.
  EXPECT_EQ(linear->weight.scalar_type(), torch::kFloat);
}

TEST(PrecisionTest, LossScalerUnscalesTheGradients) {
  auto w = torch::tensor({1.0f, -2.0f, 3.0f}, torch::requires_grad());
  LossScaler scaler(torch::kCPU);
  EXPECT_EQ(scaler.scale(), 65536.0);
  scaler.Backward((w * w).sum());
  scaler.Unscale({w});
  EXPECT_TRUE(torch::allclose(w.grad(), 2 * w.detach())) << w.grad();
  EXPECT_TRUE(scaler.Update());
  EXPECT_EQ(scaler.skipped_steps(), 0);
}

TEST(PrecisionTest, LossScalerSkipsAnOverflowAndAdaptsItsScale) {
  LossScaler::Options options;
  options.initial_scale = 1024;
  options.growth_interval = 2;
  LossScaler scaler(torch::kCPU, options);
  auto w = torch::tensor({1.0f, 2.0f}, torch::requires_grad());

  // A gradient of 1e36 overflows fp32 once scaled by 1024.
  scaler.Backward((w * 1e36f).sum());
  scaler.Unscale({w});
  EXPECT_FALSE(scaler.Update()) << "an overflowing step must be skipped";
  EXPECT_EQ(scaler.skipped_steps(), 1);
  EXPECT_EQ(scaler.scale(), 512);

  for (int step = 0; step < 2; ++step) {
    w.mutable_grad().zero_();
    scaler.Backward(w.sum());
    scaler.Unscale({w});
    EXPECT_TRUE(scaler.Update());
  }
  EXPECT_EQ(scaler.scale(), 1024) << "two clean steps (the growth interval) double the scale";
  EXPECT_EQ(scaler.skipped_steps(), 1);
}

TEST(PrecisionTest, ClippingOnTheDeviceEqualsLibTorchs) {
  for (const double max_norm : {0.5, 100.0}) {  // clipped, and left alone
    torch::manual_seed(3);
    std::vector<torch::Tensor> a = {torch::randn({4, 3}, torch::requires_grad()), torch::randn({5}, torch::requires_grad())};
    std::vector<torch::Tensor> b;
    for (auto& p : a) {
      (p * p * 3).sum().backward();
      b.push_back(p.detach().clone().requires_grad_(true));
      b.back().mutable_grad() = p.grad().clone();
    }
    ClipGradNormOnDevice(a, max_norm);
    torch::nn::utils::clip_grad_norm_(b, max_norm);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(torch::allclose(a[i].grad(), b[i].grad(), 1e-6, 1e-7)) << "max_norm " << max_norm << " tensor " << i;
    }
  }
}

DataShape MnistShape() {
  DataShape shape;
  shape.channels = 1;
  shape.image_size = 28;
  shape.classes = 10;
  shape.train_images = 256;
  return shape;
}

Batch RandomBatch(int64_t n) {
  torch::manual_seed(7);
  Batch b;
  b.images = torch::randn({n, 1, 28, 28});
  b.labels = torch::randint(0, 10, {n}, torch::kLong);
  b.labels_b = b.labels;
  return b;
}

moe4::v1::JobAssignment JobIn(moe4::v1::Precision precision) {
  auto job = testing::TinyJob({"AirNet", "VGG"}, 1);
  job.mutable_recipe()->set_precision(precision);
  return job;
}

TEST(PrecisionTest, Bf16StepsTrainTheSameNetworkAsFp32) {
  TrainingCore fp32(BuiltinRegistry(), JobIn(moe4::v1::PRECISION_FP32), MnistShape(), torch::kCPU);
  TrainingCore bf16(BuiltinRegistry(), JobIn(moe4::v1::PRECISION_BF16), MnistShape(), torch::kCPU);
  EXPECT_EQ(fp32.precision(), Precision::kFp32);
  ASSERT_EQ(bf16.precision(), Precision::kBf16);
  const Batch batch = RandomBatch(16);
  for (int step = 0; step < 3; ++step) {
    const auto a = fp32.Step(batch);
    const auto b = bf16.Step(batch);
    ASSERT_TRUE(a.finite && b.finite);
    EXPECT_EQ(b.out.logits.scalar_type(), torch::kFloat) << "the loss and metrics see fp32";
    // bf16 keeps 8 bits of mantissa: a few per cent on the loss, no more.
    EXPECT_NEAR(b.loss_value, a.loss_value, 0.05 * std::abs(a.loss_value)) << "step " << step;
  }
  for (const auto& p : bf16.model()->parameters()) ASSERT_EQ(p.scalar_type(), torch::kFloat) << "master weights stay fp32";
  const auto eval = bf16.Evaluate(batch.images);
  EXPECT_EQ(eval.logits.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::isfinite(eval.logits).all().item<bool>());
}

TEST(PrecisionTest, Fp16IsRefusedOnTheCpuAsAnInvalidJob) {
  EXPECT_THROW(TrainingCore(BuiltinRegistry(), JobIn(moe4::v1::PRECISION_FP16), MnistShape(), torch::kCPU),
               std::invalid_argument);
}

TEST(PrecisionTest, DeferredCheckFindsTheFirstNonFiniteStep) {
  TrainingCore core(BuiltinRegistry(), JobIn(moe4::v1::PRECISION_FP32), MnistShape(), torch::kCPU);
  core.set_checks_every_step(false);  // what a GPU does
  const Batch good = RandomBatch(8);
  Batch bad = good;
  bad.images = good.images.clone();
  bad.images[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(core.Step(good).finite);
  EXPECT_EQ(core.FirstNonFiniteStep(), -1);
  EXPECT_TRUE(core.Step(good).finite);
  EXPECT_TRUE(core.Step(bad).finite) << "deferred: the step itself reads nothing back";
  EXPECT_TRUE(core.Step(good).finite);
  EXPECT_EQ(core.FirstNonFiniteStep(), 2) << "the third step (0-based 2) was the first bad one";
}

}  // namespace
}  // namespace moe4::worker
