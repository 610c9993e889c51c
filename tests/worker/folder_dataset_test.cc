// DatasetSpec {name: folder | tinyimagenet} through LoadDataset: tensors
// that share the decoded (or mapped) images, the validation split from
// val/ or carved, the data-root check, and skipped files reported.
#include <gtest/gtest.h>

#include "tests/worker/image/image_test_util.h"
#include "worker/data/loader.h"

namespace moe4::worker {
namespace {

namespace fs = std::filesystem;
using testing::Jpeg;
using testing::Png;
using testing::ScratchRoot;
using testing::WriteBytes;

class FolderDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string cls : {"ant", "bee", "cow"}) {
      for (int i = 0; i < 8; ++i) {
        WriteBytes(root_.path() / "ds" / "train" / cls / (std::to_string(i) + ".jpg"), Jpeg(20, 20, 3, i));
      }
      WriteBytes(root_.path() / "ds" / "test" / cls / "t.png", Png(20, 20, 3));
    }
  }
  moe4::v1::DatasetSpec Spec(const std::string& name = "folder", const std::string& path = "ds") const {
    moe4::v1::DatasetSpec spec;
    spec.set_name(name);
    spec.set_path(path);
    spec.set_validation_fraction(0.25);
    spec.set_split_seed(3);
    return spec;
  }
  LoadOptions Options() const {
    LoadOptions options;
    options.data_root = root_.path().string();
    options.data_cache = (root_.path() / "cache").string();
    options.threads = 2;
    return options;
  }
  ScratchRoot root_;
};

TEST_F(FolderDatasetTest, TensorsAndACarvedValidationSplit) {
  auto pair = LoadDataset(Spec(), Options());
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->train.num_classes, 3);
  EXPECT_EQ(pair->train.images.sizes(), (std::vector<int64_t>{18, 3, 20, 20}));
  EXPECT_EQ(pair->train.images.dtype(), torch::kUInt8);
  EXPECT_EQ(pair->train.labels.dtype(), torch::kLong);
  EXPECT_EQ(pair->validation.size(), 6);  // 2 of each class's 8
  EXPECT_EQ(pair->test.size(), 3);
  EXPECT_EQ(pair->test.labels.max().item<int64_t>(), 2);
  EXPECT_TRUE(pair->skipped.empty());
  // The second load maps the cache: the same tensors.
  auto cached = LoadDataset(Spec(), Options());
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_TRUE(torch::equal(cached->train.images, pair->train.images));
  EXPECT_TRUE(torch::equal(cached->validation.labels, pair->validation.labels));
}

TEST_F(FolderDatasetTest, ValDirectoryReplacesTheCarvedSplit) {
  WriteBytes(root_.path() / "ds" / "val" / "bee" / "v.jpg", Jpeg(20, 20, 3, 5));
  auto pair = LoadDataset(Spec(), Options());
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->train.size(), 24);
  ASSERT_EQ(pair->validation.size(), 1);
  EXPECT_EQ(pair->validation.labels[0].item<int64_t>(), 1);
  auto spec = Spec();
  spec.set_validation_fraction(0);
  auto none = LoadDataset(spec, Options());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->validation.size(), 0);
}

TEST_F(FolderDatasetTest, ResizeAndSubsets) {
  auto spec = Spec();
  spec.set_resize(16);
  spec.set_train_subset(12);
  spec.set_validation_fraction(0);  // a random 12 of 24 may leave a class too few to split
  auto pair = LoadDataset(spec, Options());
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->train.images.size(1), 3);
  EXPECT_EQ(pair->train.images.size(2), 16);
  EXPECT_EQ(pair->train.images.size(3), 16);
  EXPECT_EQ(pair->train.size(), 12);
  EXPECT_EQ(pair->test.images.size(3), 16);
}

TEST_F(FolderDatasetTest, PathMustStayInTheDataRoot) {
  ScratchRoot elsewhere;
  fs::create_directory_symlink(elsewhere.path(), root_.path() / "escape");
  auto pair = LoadDataset(Spec("folder", "escape"), Options());
  ASSERT_FALSE(pair.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(pair.status())) << pair.status();
  EXPECT_NE(pair.status().message().find("outside this worker's --data-root"), std::string::npos);
  auto no_path = LoadDataset(Spec("folder", ""), Options());
  ASSERT_FALSE(no_path.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(no_path.status())) << no_path.status();
}

TEST_F(FolderDatasetTest, SkippedFilesAreReported) {
  const std::string text = "hello";
  WriteBytes(root_.path() / "ds" / "train" / "cow" / "readme.txt", std::vector<uint8_t>(text.begin(), text.end()));
  auto strict = LoadDataset(Spec(), Options());
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.status().message().find("train/cow/readme.txt: not an image file"), std::string::npos)
      << strict.status();
  auto spec = Spec();
  spec.set_skip_bad_images(true);
  auto pair = LoadDataset(spec, Options());
  ASSERT_TRUE(pair.ok()) << pair.status();
  ASSERT_EQ(pair->skipped.size(), 1u);
  EXPECT_EQ(pair->skipped[0].class_name, "cow");
}

TEST_F(FolderDatasetTest, TinyImageNetDefaultDirectory) {
  const fs::path tiny = root_.path() / "tiny-imagenet-200";
  WriteBytes(tiny / "wnids.txt", {'n', '1', '\n', 'n', '2', '\n'});
  for (const std::string wnid : {"n1", "n2"}) {
    for (int i = 0; i < 4; ++i) {
      WriteBytes(tiny / "train" / wnid / "images" / (wnid + "_" + std::to_string(i) + ".JPEG"), Jpeg(64, 64, 3, i));
    }
  }
  WriteBytes(tiny / "val" / "images" / "val_0.JPEG", Jpeg(64, 64, 3));
  const std::string annotations = "val_0.JPEG\tn2\t0\t0\t1\t1\n";
  WriteBytes(tiny / "val" / "val_annotations.txt", std::vector<uint8_t>(annotations.begin(), annotations.end()));
  auto pair = LoadDataset(Spec("tinyimagenet", ""), Options());
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->train.num_classes, 2);
  EXPECT_EQ(pair->train.size() + pair->validation.size(), 8);
  EXPECT_EQ(pair->test.images.sizes(), (std::vector<int64_t>{1, 3, 64, 64}));
  EXPECT_EQ(pair->test.labels[0].item<int64_t>(), 1);
}

}  // namespace
}  // namespace moe4::worker
