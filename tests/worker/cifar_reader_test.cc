#include "worker/data/cifar_reader.h"

#include <gtest/gtest.h>

#include <fstream>

#include "test_util.h"

namespace moe4::worker {
namespace {

using testing::ScratchDir;

// Writes `n` records; image i is filled with value (i + offset) and label i % classes.
void WriteCifar(const std::string& path, int n, int label_bytes, int classes, int offset) {
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < n; ++i) {
    if (label_bytes == 2) out.put(static_cast<char>(i % 20));  // coarse label
    out.put(static_cast<char>(i % classes));
    const std::string pixels(3072, static_cast<char>(i + offset));
    out.write(pixels.data(), pixels.size());
  }
}

TEST(CifarReaderTest, ReadsCifar10Release) {
  ScratchDir dir;
  std::filesystem::create_directories(dir.File("cifar-10-batches-bin"));
  for (int b = 1; b <= 5; ++b) {
    WriteCifar(dir.File("cifar-10-batches-bin/data_batch_" + std::to_string(b) + ".bin"), 3, 1, 10, 10 * b);
  }
  WriteCifar(dir.File("cifar-10-batches-bin/test_batch.bin"), 4, 1, 10, 100);
  auto pair = LoadCifar10(dir.path());  // finds the nested release directory
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->train.images.sizes(), (std::vector<int64_t>{15, 3, 32, 32}));
  EXPECT_EQ(pair->test.size(), 4);
  EXPECT_EQ(pair->train.num_classes, 10);
  EXPECT_EQ(pair->train.images[4][2][31][31].item<int>(), 21);  // batch 2, image 1
  EXPECT_EQ(pair->train.labels[4].item<int64_t>(), 1);
  EXPECT_EQ(pair->test.labels[3].item<int64_t>(), 3);
}

TEST(CifarReaderTest, ReadsCifar100FineLabels) {
  ScratchDir dir;
  WriteCifar(dir.File("train.bin"), 150, 2, 100, 0);
  WriteCifar(dir.File("test.bin"), 5, 2, 100, 0);
  auto pair = LoadCifar100(dir.path());
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->train.size(), 150);
  EXPECT_EQ(pair->train.num_classes, 100);
  EXPECT_EQ(pair->train.labels[120].item<int64_t>(), 20);  // fine, not coarse (0)
}

TEST(CifarReaderTest, TruncatedOrMissingFilesAreNamed) {
  ScratchDir dir;
  WriteCifar(dir.File("train.bin"), 2, 2, 100, 0);
  {
    std::ofstream out(dir.File("test.bin"), std::ios::binary);
    out << std::string(3074 + 10, '\0');  // one record and a torn one
  }
  auto torn = LoadCifar100(dir.path());
  ASSERT_FALSE(torn.ok());
  EXPECT_NE(std::string(torn.status().message()).find(dir.File("test.bin")), std::string::npos);
  EXPECT_NE(std::string(torn.status().message()).find("multiple"), std::string::npos);

  auto missing = LoadCifar10(dir.path());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("data_batch_1.bin"), std::string::npos) << missing.status();
}

TEST(CifarReaderTest, LabelOutOfRangeIsAnError) {
  ScratchDir dir;
  WriteCifar(dir.File("x.bin"), 12, 1, 12, 0);  // labels up to 11
  auto d = ReadCifarFiles({dir.File("x.bin")}, 1, 10, "cifar10/train");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(std::string(d.status().message()).find("label 11"), std::string::npos);
}

}  // namespace
}  // namespace moe4::worker
