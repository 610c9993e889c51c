#include "worker/data/batch_stream.h"

#include <gtest/gtest.h>

namespace moe4::worker {
namespace {

Dataset Numbered(int n) {
  Dataset d;
  d.name = "numbered";
  // Image i is constant i (so we can identify it after shuffling).
  d.images = torch::arange(n, torch::kLong).to(torch::kUInt8).view({n, 1, 1, 1}).expand({n, 1, 8, 8}).contiguous();
  d.labels = torch::arange(n, torch::kLong);
  d.num_classes = n;
  return d;
}

TEST(BatchStreamTest, EvalVisitsEveryImageOnceInOrder) {
  auto d = Numbered(10);
  AugmentOptions aug;  // no normalisation: pixels are x / 255
  BatchStreamOptions o;
  o.batch_size = 4;
  BatchStream s(d, aug, o);
  EXPECT_EQ(s.num_batches(), 3);
  std::vector<int64_t> seen;
  Batch b;
  while (s.Next(&b)) {
    for (int64_t i = 0; i < b.labels.size(0); ++i) {
      seen.push_back(b.labels[i].item<int64_t>());
      EXPECT_NEAR(b.images[i][0][3][3].item<double>(), seen.back() / 255.0, 1e-6);
    }
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(BatchStreamTest, TrainShufflesDeterministicallyAndDropsABatchOfOne) {
  auto d = Numbered(9);
  AugmentOptions aug;
  BatchStreamOptions o;
  o.batch_size = 4;
  o.train = true;
  o.seed = 3;
  auto labels = [&](uint64_t seed) {
    o.seed = seed;
    BatchStream s(d, aug, o);
    EXPECT_EQ(s.num_batches(), 2);  // 4 + 4, the lone ninth image is skipped
    std::vector<int64_t> out;
    Batch b;
    while (s.Next(&b)) {
      for (int64_t i = 0; i < b.labels.size(0); ++i) out.push_back(b.labels[i].item<int64_t>());
    }
    return out;
  };
  EXPECT_EQ(labels(3), labels(3));
  EXPECT_NE(labels(3), labels(4));
}

TEST(BatchStreamTest, MixupBlendsImagesWithPartnerLabels) {
  auto d = Numbered(16);
  AugmentOptions aug;
  BatchStreamOptions o;
  o.batch_size = 16;
  o.train = true;
  o.mixup_alpha = 0.4;
  o.seed = 1;
  BatchStream s(d, aug, o);
  Batch b;
  ASSERT_TRUE(s.Next(&b));
  ASSERT_GT(b.lam, 0.0);
  ASSERT_LT(b.lam, 1.0);
  for (int64_t i = 0; i < 16; ++i) {
    const double expected = (b.lam * b.labels[i].item<int64_t>() + (1 - b.lam) * b.labels_b[i].item<int64_t>()) / 255.0;
    EXPECT_NEAR(b.images[i][0][4][4].item<double>(), expected, 1e-5);
  }
}

TEST(BatchStreamTest, RandomCropShiftsWithinPaddingAndFlipMirrors) {
  // A single bright pixel at (2, 2) in an 8x8 image.
  auto img = torch::zeros({64, 1, 8, 8}, torch::kUInt8);
  img.index_put_({torch::indexing::Slice(), 0, 2, 2}, 255);
  AugmentOptions aug;
  aug.pad = 2;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  auto out = Preprocess(img, aug, &gen);
  ASSERT_EQ(out.sizes(), img.sizes());
  bool moved = false;
  for (int i = 0; i < 64; ++i) {
    auto nz = out[i][0].nonzero();
    ASSERT_EQ(nz.size(0), 1);  // the pixel always survives a shift of <= 2
    const int64_t r = nz[0][0].item<int64_t>(), c = nz[0][1].item<int64_t>();
    EXPECT_LE(std::abs(r - 2), 2);
    EXPECT_LE(std::abs(c - 2), 2);
    moved = moved || r != 2 || c != 2;
  }
  EXPECT_TRUE(moved);

  AugmentOptions flip;
  flip.flip = true;
  auto flipped = Preprocess(img, flip, &gen);
  int mirrored = 0;
  for (int i = 0; i < 64; ++i) mirrored += flipped[i][0][2][5].item<int>() == 255 ? 1 : 0;
  EXPECT_GT(mirrored, 10);
  EXPECT_LT(mirrored, 54);
}

TEST(BatchStreamTest, NormalisesAndResizes) {
  auto d = Numbered(4);
  AugmentOptions aug;
  ChannelStats(d.images, &aug.mean, &aug.std);
  EXPECT_NEAR(aug.mean[0], 1.5 / 255.0, 1e-9);
  aug.resize = 16;
  BatchStreamOptions o;
  o.batch_size = 4;
  BatchStream s(d, aug, o);
  Batch b;
  ASSERT_TRUE(s.Next(&b));
  EXPECT_EQ(b.images.sizes(), (std::vector<int64_t>{4, 1, 16, 16}));
  EXPECT_NEAR(b.images.mean().item<double>(), 0.0, 1e-5);
}

TEST(BatchStreamTest, DatasetsStayOnTheHostForTheCpuAndWhenTooLarge) {
  const auto d = Numbered(16);
  EXPECT_FALSE(DeviceResidentCopy(d, torch::kCPU, kMaxDeviceResidentBytes).has_value());
  if (torch::cuda::is_available()) {
    EXPECT_FALSE(DeviceResidentCopy(d, torch::Device(torch::kCUDA, 0), /*max_bytes=*/16).has_value());
  }
}

// The same batches, made from the host or from a copy on the GPU: the random
// draws come from the stream's CPU generator either way.
TEST(BatchStreamTest, DeviceResidentDatasetGivesTheHostsBatchesOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "needs a CUDA device (bench/gpu runs the worker tests there)";
  const torch::Device gpu(torch::kCUDA, 0);
  const auto d = Numbered(64);
  const auto resident = DeviceResidentCopy(d, gpu, kMaxDeviceResidentBytes);
  ASSERT_TRUE(resident.has_value());
  EXPECT_TRUE(resident->images.is_cuda());
  AugmentOptions aug;
  aug.pad = 2;
  aug.flip = true;
  aug.resize = 12;
  aug.mean = {0.2};
  aug.std = {0.3};
  BatchStreamOptions o;
  o.batch_size = 16;
  o.train = true;
  o.mixup_alpha = 0.4;
  o.seed = 5;
  o.device = gpu;
  BatchStream from_host(d, aug, o);
  BatchStream from_device(*resident, aug, o);
  Batch a, b;
  int batches = 0;
  while (from_host.Next(&a)) {
    ASSERT_TRUE(from_device.Next(&b));
    ASSERT_TRUE(b.images.is_cuda());
    EXPECT_TRUE(torch::allclose(a.images.cpu(), b.images.cpu(), 1e-5, 1e-6));
    EXPECT_TRUE(torch::equal(a.labels.cpu(), b.labels.cpu()));
    EXPECT_TRUE(torch::equal(a.labels_b.cpu(), b.labels_b.cpu()));
    EXPECT_DOUBLE_EQ(a.lam, b.lam);
    ++batches;
  }
  EXPECT_EQ(batches, 4);
}

}  // namespace
}  // namespace moe4::worker
