// TrainingCore: the weight layout it picks, and that the layout changes the
// speed, not the network: the same seed gives the same weights and, step for
// step, the same losses and outputs up to floating-point summation order.
#include "worker/train/training_core.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_util.h"

namespace moe4::worker {
namespace {

using testing::TinyJob;

DataShape MnistShape() {
  DataShape shape;
  shape.channels = 1;
  shape.image_size = 28;
  shape.classes = 10;
  shape.train_images = 256;
  return shape;
}

Batch FixedBatch(int64_t n) {
  torch::manual_seed(123);
  Batch b;
  b.images = torch::randn({n, 1, 28, 28});
  b.labels = torch::randint(0, 10, {n}, torch::kLong);
  b.labels_b = b.labels.roll(1);
  b.lam = 0.7;  // a mixup batch, so both label terms count
  return b;
}

// Of the 4-D weights whose layouts differ (more than one input channel and
// a kernel larger than 1x1: the others are contiguous in both), how many are
// in `format`; *total counts them.
int64_t SpatialWeightsIn(MixtureOfExperts& model, torch::MemoryFormat format, int64_t* total) {
  int64_t in_format = 0;
  *total = 0;
  for (const auto& p : model->parameters()) {
    if (p.dim() != 4 || p.size(1) < 2 || p.size(2) * p.size(3) < 2) continue;
    ++*total;
    if (p.is_contiguous(format)) ++in_format;
  }
  return in_format;
}

// Convolutions, grouped convolutions with a channel shuffle (ShuffleNet's
// view/transpose), dense concatenation and windowed attention on tokens.
const std::vector<std::string> kFamilies = {"AirNet", "ShuffleNet", "DenseNet", "SwinTransformer"};

TEST(TrainingCoreTest, CpuWeightsAreChannelsLastUnlessAskedOtherwise) {
  const auto job = TinyJob(kFamilies, 1);
  TrainingCore automatic(BuiltinRegistry(), job, MnistShape(), torch::kCPU);
  EXPECT_TRUE(automatic.channels_last());
  int64_t total = 0;
  EXPECT_EQ(SpatialWeightsIn(automatic.model(), torch::MemoryFormat::ChannelsLast, &total), total);
  EXPECT_GT(total, 10);

  TrainingCore nchw(BuiltinRegistry(), job, MnistShape(), torch::kCPU, WeightLayout::kDefault);
  EXPECT_FALSE(nchw.channels_last());
  EXPECT_EQ(SpatialWeightsIn(nchw.model(), torch::MemoryFormat::ChannelsLast, &total), 0);
  EXPECT_GT(total, 10);
}

TEST(TrainingCoreTest, LayoutChangesNeitherTheWeightsNorTheTraining) {
  const auto job = TinyJob(kFamilies, 1);
  TrainingCore nhwc(BuiltinRegistry(), job, MnistShape(), torch::kCPU, WeightLayout::kChannelsLast);
  TrainingCore nchw(BuiltinRegistry(), job, MnistShape(), torch::kCPU, WeightLayout::kDefault);
  auto a = nhwc.model()->named_parameters();
  auto b = nchw.model()->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) {
    ASSERT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key() << ": the same seed built other weights";
  }

  // The forward pass: the same function of the input, up to summation order
  // relative to the logits' scale, not element by element: untrained,
  // DenseNet in eval mode (running statistics 0 and 1) reaches |logits| ~1e5,
  // and LibTorch 2.x runs NCHW and NHWC convolutions through different
  // kernels (measured with 2.11: 0.19 apart at 2.6e5, 7e-7 relative).
  const Batch batch = FixedBatch(16);
  const auto ea = nhwc.Evaluate(batch.images);
  const auto eb = nchw.Evaluate(batch.images);
  const double scale = eb.logits.abs().max().item<double>();
  const double difference = (ea.logits - eb.logits).abs().max().item<double>();
  EXPECT_LE(difference, 1e-5 + 1e-5 * scale) << "max difference " << difference << " in logits up to " << scale;
  // Training: the same losses. Only loosely after the first step: AdamW
  // divides each gradient by its own magnitude, so a gradient element near
  // zero whose rounding differs moves its weight by a whole learning rate.
  for (int step = 0; step < 3; ++step) {
    nhwc.SetLearningRate(1e-3);
    nchw.SetLearningRate(1e-3);
    // The gate's training noise draws from the global generator: same draws.
    torch::manual_seed(1000 + step);
    const auto ra = nhwc.Step(batch);
    torch::manual_seed(1000 + step);
    const auto rb = nchw.Step(batch);
    ASSERT_TRUE(ra.finite && rb.finite);
    EXPECT_NEAR(ra.loss_value, rb.loss_value, (step == 0 ? 1e-5 : 1e-2) * std::abs(rb.loss_value))
        << "step " << step;
  }
  // Training moved the weights, and kept their layout.
  int64_t total = 0;
  EXPECT_EQ(SpatialWeightsIn(nhwc.model(), torch::MemoryFormat::ChannelsLast, &total), total);
}

}  // namespace
}  // namespace moe4::worker
