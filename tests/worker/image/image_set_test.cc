// Folder and TinyImageNet datasets end to end without LibTorch: listing,
// decoding on several threads, the channel rule, val/, resizing, the cache
// (written atomically, trusted only when valid, invalidated by any change),
// and every hostile input failing with the file named or, with
// skip_bad_images, skipped and counted per class.
#include "worker/data/image_set.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

#include "tests/worker/image/image_test_util.h"
#include "worker/data/image_cache.h"

namespace moe4::worker {
namespace {

namespace fs = std::filesystem;
using testing::Jpeg;
using testing::Png;
using testing::PngBomb;
using testing::ScratchRoot;
using testing::WriteBytes;

std::vector<uint8_t> AllPixels(const ImageSet& set) {
  std::vector<uint8_t> out;
  const size_t bytes = static_cast<size_t>(set.channels) * set.height * set.width;
  for (const auto& part : set.parts) out.insert(out.end(), part.images, part.images + part.count * bytes);
  return out;
}

class ImageSetTest : public ::testing::Test {
 protected:
  // A folder dataset of `classes` classes (cat, dog, owl, ...), `train` and
  // `test` 16x16 images each, JPEG and PNG alternating.
  void MakeFolder(int train = 3, int test = 2, int classes = 3) {
    const std::vector<std::string> names = {"cat", "dog", "owl", "yak"};
    for (int c = 0; c < classes; ++c) {
      for (int i = 0; i < train; ++i) {
        WriteBytes(ds_ / "train" / names[c] / ("t" + std::to_string(i) + (i % 2 ? ".png" : ".jpg")),
                   i % 2 ? Png(16, 16, 3, c * 10 + i) : Jpeg(16, 16, 3, c * 10 + i));
      }
      for (int i = 0; i < test; ++i) {
        WriteBytes(ds_ / "test" / names[c] / ("e" + std::to_string(i) + ".jpeg"), Jpeg(16, 16, 3, 100 + c * 10 + i));
      }
    }
  }

  ImageSetOptions Options() const {
    ImageSetOptions options;
    options.data_root = root_.path().string();
    options.threads = 3;
    options.cache_dir = (root_.path() / "cache").string();
    return options;
  }

  absl::StatusOr<ImageSet> Load(ImageSetOptions options, ImageLayout layout = ImageLayout::kFolder) {
    return LoadImageSet(layout, ds_.string(), options);
  }

  // Loads expecting a failure that names `file` and says `reason`; then, with
  // skip_bad_images, a success that skipped exactly that file of `class_name`.
  void ExpectBadFile(const std::string& file, const std::string& reason, const std::string& class_name,
                     ImageSplit split = ImageSplit::kTrain) {
    auto failed = Load(Options());
    ASSERT_FALSE(failed.ok()) << "a bad " << file << " was accepted";
    const std::string message(failed.status().message());
    EXPECT_NE(message.find(file + ": "), std::string::npos) << message;
    EXPECT_NE(message.find(reason), std::string::npos) << message;
    EXPECT_NE(message.find("skip_bad_images"), std::string::npos) << message;
    ImageSetOptions skip = Options();
    skip.skip_bad_images = true;
    auto skipped = Load(skip);
    ASSERT_TRUE(skipped.ok()) << skipped.status();
    ASSERT_EQ(skipped->skipped.size(), 1u);
    EXPECT_EQ(skipped->skipped[0].relative, file);
    EXPECT_EQ(skipped->skipped[0].class_name, class_name);
    EXPECT_EQ(skipped->skipped[0].split, split);
    EXPECT_NE(skipped->skipped[0].reason.find(reason), std::string::npos) << skipped->skipped[0].reason;
    const std::string summary = DescribeSkipped(skipped->skipped);
    EXPECT_NE(summary.find(std::string("1 bad file skipped: ") + std::string(ImageSplitName(split)) + "/" +
                           class_name + " 1"),
              std::string::npos)
        << summary;
  }

  ScratchRoot root_;
  fs::path ds_ = root_.path() / "ds";
};

TEST_F(ImageSetTest, FolderLoadsClassesInSortedOrder) {
  MakeFolder();
  auto set = Load(Options());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->classes, (std::vector<std::string>{"cat", "dog", "owl"}));
  EXPECT_EQ(set->channels, 3);
  EXPECT_EQ(set->height, 16);
  EXPECT_EQ(set->width, 16);
  EXPECT_EQ(set->parts[0].count, 9);
  EXPECT_EQ(set->parts[1].count, 0);
  EXPECT_EQ(set->parts[2].count, 6);
  EXPECT_FALSE(set->has_validation);
  const std::vector<int32_t> train_labels(set->parts[0].labels, set->parts[0].labels + 9);
  EXPECT_EQ(train_labels, (std::vector<int32_t>{0, 0, 0, 1, 1, 1, 2, 2, 2}));
  EXPECT_TRUE(set->skipped.empty());
}

TEST_F(ImageSetTest, PixelsArePlanarAndMatchThePng) {
  WriteBytes(ds_ / "train" / "a" / "x.png", Png(4, 2, 3, 7));
  WriteBytes(ds_ / "test" / "a" / "y.png", Png(4, 2, 3, 8));
  auto set = Load(Options());
  ASSERT_TRUE(set.ok()) << set.status();
  const auto pixels = testing::Pixels(4, 2, 3, 7);
  for (int c = 0; c < 3; ++c) {
    for (int p = 0; p < 8; ++p) ASSERT_EQ(set->parts[0].images[c * 8 + p], pixels[p * 3 + c]) << c << " " << p;
  }
}

TEST_F(ImageSetTest, AllGrayIsOneChannelAndMixedIsThree) {
  WriteBytes(ds_ / "train" / "a" / "g.png", Png(8, 8, 1, 1));
  WriteBytes(ds_ / "train" / "b" / "g.jpg", Jpeg(8, 8, 1, 2));
  WriteBytes(ds_ / "test" / "a" / "ga.png", Png(8, 8, 2, 3));  // gray + alpha
  auto gray = Load(Options());
  ASSERT_TRUE(gray.ok()) << gray.status();
  EXPECT_EQ(gray->channels, 1);
  // One colour image makes the whole dataset RGB; gray ones are repeated.
  WriteBytes(ds_ / "test" / "b" / "rgb.png", Png(8, 8, 3, 4));
  auto mixed = Load(Options());
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  ASSERT_EQ(mixed->channels, 3);
  const uint8_t* first = mixed->parts[0].images;  // train/a/g.png
  EXPECT_EQ(std::memcmp(first, first + 64, 64), 0);
  EXPECT_EQ(std::memcmp(first, first + 128, 64), 0);
  const auto expected = testing::Pixels(8, 8, 1, 1);
  EXPECT_EQ(std::vector<uint8_t>(first, first + 64), expected);
}

TEST_F(ImageSetTest, ValDirectoryIsTheValidationSplit) {
  MakeFolder();
  WriteBytes(ds_ / "val" / "dog" / "v.png", Png(16, 16, 3, 9));
  auto set = Load(Options());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->has_validation);
  EXPECT_EQ(set->parts[1].count, 1);
  EXPECT_EQ(set->parts[1].labels[0], 1);
}

TEST_F(ImageSetTest, MixedSizesNeedResize) {
  MakeFolder();
  WriteBytes(ds_ / "train" / "dog" / "big.png", Png(40, 24, 3));
  auto failed = Load(Options());
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("train/dog/big.png: is 40x24, but the dataset's images are 16x16"),
            std::string::npos)
      << failed.status();
  EXPECT_NE(failed.status().message().find("set dataset.resize"), std::string::npos);
  ImageSetOptions options = Options();
  options.resize = 12;
  auto resized = Load(options);
  ASSERT_TRUE(resized.ok()) << resized.status();
  EXPECT_EQ(resized->height, 12);
  EXPECT_EQ(resized->width, 12);
  EXPECT_EQ(resized->parts[0].count, 10);
}

TEST_F(ImageSetTest, CacheIsWrittenThenMappedWithTheSamePixels) {
  MakeFolder();
  auto first = Load(Options());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->from_cache);
  ASSERT_FALSE(first->cache_path.empty());
  EXPECT_TRUE(fs::exists(first->cache_path));
  auto second = Load(Options());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->from_cache);
  EXPECT_EQ(second->classes, first->classes);
  EXPECT_EQ(AllPixels(*second), AllPixels(*first));
  for (int s = 0; s < kImageSplits; ++s) {
    ASSERT_EQ(second->parts[s].count, first->parts[s].count);
    for (int64_t i = 0; i < first->parts[s].count; ++i) EXPECT_EQ(second->parts[s].labels[i], first->parts[s].labels[i]);
  }
  // No temporary file is left behind.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(root_.path() / "cache")) {
    ++files;
    EXPECT_EQ(entry.path().extension(), ".moe4img") << entry.path();
  }
  EXPECT_EQ(files, 1);
}

TEST_F(ImageSetTest, DefaultCacheIsBesideTheDatasetAndNoneWritesNothing) {
  MakeFolder();
  ImageSetOptions options = Options();
  options.cache_dir = "none";
  auto uncached = Load(options);
  ASSERT_TRUE(uncached.ok()) << uncached.status();
  EXPECT_TRUE(uncached->cache_path.empty());
  EXPECT_FALSE(fs::exists(ds_ / ".moe4-cache"));
  EXPECT_FALSE(fs::exists(root_.path() / "cache"));
  options.cache_dir = "";
  auto beside = Load(options);
  ASSERT_TRUE(beside.ok()) << beside.status();
  EXPECT_EQ(fs::path(beside->cache_path).parent_path(), fs::canonical(ds_) / ".moe4-cache");
  // The hidden cache directory is not mistaken for part of the dataset.
  auto again = Load(options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->from_cache);
}

TEST_F(ImageSetTest, ChangedFilesMakeANewCacheAndTheOldOneGoes) {
  MakeFolder();
  auto first = Load(Options());
  ASSERT_TRUE(first.ok());
  // Same name, new content and time: the key must change.
  const fs::path changed = ds_ / "train" / "cat" / "t0.jpg";
  WriteBytes(changed, Jpeg(16, 16, 3, 999));
  fs::last_write_time(changed, fs::last_write_time(changed) + std::chrono::seconds(5));
  auto second = Load(Options());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->from_cache);
  EXPECT_NE(second->cache_path, first->cache_path);
  EXPECT_FALSE(fs::exists(first->cache_path)) << "the cache of the old file list was kept";
  // A different resize of the same files is another cache, kept beside it.
  ImageSetOptions resized = Options();
  resized.resize = 8;
  auto third = Load(resized);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->from_cache);
  EXPECT_TRUE(fs::exists(second->cache_path));
  EXPECT_TRUE(fs::exists(third->cache_path));
}

TEST_F(ImageSetTest, DamagedCacheIsNeverTrusted) {
  MakeFolder();
  auto first = Load(Options());
  ASSERT_TRUE(first.ok());
  const std::string path = first->cache_path;
  const auto size = fs::file_size(path);
  first = absl::InternalError("released");  // unmap before damaging the file
  // Truncated (as a crash mid-write would leave it, were it not renamed).
  fs::resize_file(path, size - 100);
  auto reread = Load(Options());
  ASSERT_TRUE(reread.ok()) << reread.status();
  EXPECT_FALSE(reread->from_cache);
  EXPECT_EQ(fs::file_size(path), size) << "the damaged cache was not rewritten";
  reread = absl::InternalError("released");
  // A flipped key byte.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(140);
    f.put('!');
  }
  auto again = Load(Options());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->from_cache);
}

TEST_F(ImageSetTest, CacheFileIsNotReadWithAnotherKey) {
  MakeFolder();
  auto first = Load(Options());
  ASSERT_TRUE(first.ok());
  auto wrong = ReadImageCache(first->cache_path, std::string(64, '0'));
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(absl::IsDataLoss(wrong.status())) << wrong.status();
  EXPECT_TRUE(absl::IsNotFound(ReadImageCache((root_.path() / "nope.moe4img").string(), "").status()));
}

// Hostile and broken files: each fails naming the file, or is skipped and
// counted with skip_bad_images.

TEST_F(ImageSetTest, TruncatedJpeg) {
  MakeFolder();
  auto bytes = Jpeg(64, 64, 3);
  bytes.resize(bytes.size() / 2);
  WriteBytes(ds_ / "train" / "dog" / "cut.jpg", bytes);
  ExpectBadFile("train/dog/cut.jpg", "corrupt or truncated JPEG", "dog");
}

TEST_F(ImageSetTest, PngBomb) {
  MakeFolder();
  WriteBytes(ds_ / "train" / "owl" / "bomb.png", PngBomb(60000, 60000));
  ExpectBadFile("train/owl/bomb.png", "over the limit of 40000000 (--max-image-pixels)", "owl");
}

TEST_F(ImageSetTest, PixelLimitIsTheOptions) {
  MakeFolder();
  ImageSetOptions options = Options();
  options.max_image_pixels = 255;  // 16x16 = 256
  auto failed = Load(options);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("over the limit of 255"), std::string::npos) << failed.status();
}

TEST_F(ImageSetTest, CmykJpeg) {
  MakeFolder();
  auto cmyk = EncodeJpeg(testing::Pixels(16, 16, 4, 0).data(), 16, 16, 4, 90);
  ASSERT_TRUE(cmyk.ok());
  WriteBytes(ds_ / "test" / "cat" / "cmyk.jpg", *cmyk);
  ExpectBadFile("test/cat/cmyk.jpg", "CMYK JPEG", "cat", ImageSplit::kTest);
}

TEST_F(ImageSetTest, NonImageFiles) {
  MakeFolder();
  const std::string text = "not a picture\n";
  WriteBytes(ds_ / "train" / "cat" / "notes.txt", std::vector<uint8_t>(text.begin(), text.end()));
  ExpectBadFile("train/cat/notes.txt", "not an image file", "cat");
  fs::remove(ds_ / "train" / "cat" / "notes.txt");
  WriteBytes(ds_ / "train" / "cat" / "fake.jpg", std::vector<uint8_t>(text.begin(), text.end()));
  ExpectBadFile("train/cat/fake.jpg", "not a JPEG or PNG image", "cat");
}

TEST_F(ImageSetTest, HiddenFilesAreIgnored) {
  MakeFolder();
  const std::string text = "Finder\n";
  WriteBytes(ds_ / "train" / "cat" / ".DS_Store", std::vector<uint8_t>(text.begin(), text.end()));
  auto set = Load(Options());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->skipped.empty());
}

TEST_F(ImageSetTest, EmptyTrainingClassFails) {
  MakeFolder();
  fs::create_directories(ds_ / "train" / "zebra");
  for (bool skip : {false, true}) {
    ImageSetOptions options = Options();
    options.skip_bad_images = skip;
    auto failed = Load(options);
    ASSERT_FALSE(failed.ok());
    EXPECT_NE(failed.status().message().find("class 'zebra' has no images in train/zebra"), std::string::npos)
        << failed.status();
  }
}

TEST_F(ImageSetTest, ClassWhoseEveryImageIsBadFailsEvenWhenSkipping) {
  MakeFolder();
  fs::remove_all(ds_ / "train" / "dog");
  const std::string text = "x";
  WriteBytes(ds_ / "train" / "dog" / "a.jpg", std::vector<uint8_t>(text.begin(), text.end()));
  ImageSetOptions options = Options();
  options.skip_bad_images = true;
  auto failed = Load(options);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("class 'dog' has no usable training images"), std::string::npos)
      << failed.status();
}

TEST_F(ImageSetTest, SymlinkLoops) {
  MakeFolder();
  // A directory link back to its own class directory, and a link to itself.
  fs::create_directory_symlink("..", ds_ / "train" / "cat" / "again");
  ExpectBadFile("train/cat/again", "symlink loop", "cat");
  fs::remove(ds_ / "train" / "cat" / "again");
  fs::create_symlink("self.jpg", ds_ / "train" / "dog" / "self.jpg");
  ExpectBadFile("train/dog/self.jpg", "symlink loop", "dog");
}

TEST_F(ImageSetTest, SymlinkLeavingTheDataRoot) {
  MakeFolder();
  ScratchRoot elsewhere;
  WriteBytes(elsewhere.path() / "secret.jpg", Jpeg(16, 16, 3));
  fs::create_symlink(elsewhere.path() / "secret.jpg", ds_ / "train" / "cat" / "link.jpg");
  ExpectBadFile("train/cat/link.jpg", "outside this worker's --data-root", "cat");
  // A symlink that stays inside the root is followed.
  fs::remove(ds_ / "train" / "cat" / "link.jpg");
  WriteBytes(root_.path() / "shared" / "ok.jpg", Jpeg(16, 16, 3));
  fs::create_symlink(root_.path() / "shared" / "ok.jpg", ds_ / "train" / "cat" / "link.jpg");
  auto set = Load(Options());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->parts[0].count, 10);
}

TEST_F(ImageSetTest, ClassInTestButNotInTrain) {
  MakeFolder();
  WriteBytes(ds_ / "test" / "emu" / "e.jpg", Jpeg(16, 16, 3));
  ExpectBadFile("test/emu/e.jpg", "class 'emu' is in test/ but not in train/", "emu", ImageSplit::kTest);
}

TEST_F(ImageSetTest, MissingTestDirectoryFails) {
  MakeFolder();
  fs::remove_all(ds_ / "test");
  auto failed = Load(Options());
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("no test/ directory"), std::string::npos) << failed.status();
}

// The keys epochs report to the coordinator: a class directory may be named
// with any bytes, but a key must stay printable UTF-8 of bounded length (the
// protobuf parser refuses invalid UTF-8; the coordinator refuses control
// characters), and names that become equal count together.
TEST(SkippedCountsTest, KeysAreSplitSlashPrintableClass) {
  auto bad = [](ImageSplit split, std::string class_name) { return BadImage{split, std::move(class_name), "f", "r"}; };
  const std::string long_name(300, 'x');
  std::string accents = "a";
  for (int i = 0; i < 150; ++i) accents += "\xc3\xa9";  // é, 2 bytes: the cut falls between characters
  const std::vector<BadImage> skipped = {
      bad(ImageSplit::kTrain, "cat"),          bad(ImageSplit::kTrain, "cat"),
      bad(ImageSplit::kValidation, "cat"),     bad(ImageSplit::kTest, ""),
      bad(ImageSplit::kTrain, "a\nb"),         bad(ImageSplit::kTrain, "a\x7f" "b"),
      bad(ImageSplit::kTrain, "bad\xff\xc3"),  bad(ImageSplit::kTrain, "caf\xc3\xa9"),
      bad(ImageSplit::kTrain, "\xed\xa0\x80"), bad(ImageSplit::kTrain, long_name),
      bad(ImageSplit::kTrain, accents),
  };
  const std::map<std::string, int64_t> want = {
      {"train/cat", 2},
      {"val/cat", 1},
      {"test/(unlabelled)", 1},
      {"train/a?b", 2},             // a newline and a DEL: both '?', one key
      {"train/bad??", 1},           // a stray byte and a truncated sequence
      {"train/caf\xc3\xa9", 1},     // valid UTF-8 is kept
      {"train/???", 1},             // a UTF-16 surrogate encoded as UTF-8 is not valid
      {"train/" + std::string(kMaxSkippedClassBytes, 'x'), 1},
      {"train/" + accents.substr(0, 1 + 2 * 99), 1},
  };
  EXPECT_EQ(SkippedCounts(skipped), want);
  EXPECT_TRUE(SkippedCounts({}).empty());
}

TEST_F(ImageSetTest, SkippedCountsPerClassAreCached) {
  MakeFolder();
  auto bytes = Jpeg(16, 16, 3);
  bytes.resize(bytes.size() / 3);
  WriteBytes(ds_ / "train" / "cat" / "a.jpg", bytes);
  WriteBytes(ds_ / "train" / "cat" / "b.jpg", bytes);
  WriteBytes(ds_ / "test" / "owl" / "c.png", PngBomb(9000, 9000));
  ImageSetOptions skip = Options();
  skip.skip_bad_images = true;
  auto first = Load(skip);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->parts[0].count, 9);
  const std::string summary = DescribeSkipped(first->skipped);
  EXPECT_NE(summary.find("3 bad files skipped: train/cat 2, test/owl 1"), std::string::npos) << summary;
  auto cached = Load(skip);
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_TRUE(cached->from_cache);
  EXPECT_EQ(DescribeSkipped(cached->skipped), summary);
  // Without skipping, the cache does not hide the bad files.
  auto strict = Load(Options());
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.status().message().find("train/cat/a.jpg: corrupt or truncated JPEG"), std::string::npos)
      << strict.status();
}

// TinyImageNet-200 as distributed, in miniature.
class TinyImageNetTest : public ImageSetTest {
 protected:
  void MakeTiny() {
    WriteText(ds_ / "wnids.txt", "n02\nn01\n");
    for (const std::string wnid : {"n01", "n02"}) {
      for (int i = 0; i < 3; ++i) {
        WriteBytes(ds_ / "train" / wnid / "images" / (wnid + "_" + std::to_string(i) + ".JPEG"), Jpeg(64, 64, 3, i));
      }
      WriteText(ds_ / "train" / wnid / (wnid + "_boxes.txt"), wnid + "_0.JPEG\t0\t0\t63\t63\n");
    }
    WriteBytes(ds_ / "val" / "images" / "val_0.JPEG", Jpeg(64, 64, 3, 7));
    WriteBytes(ds_ / "val" / "images" / "val_1.JPEG", Jpeg(64, 64, 3, 8));
    WriteText(ds_ / "val" / "val_annotations.txt", "val_0.JPEG\tn02\t1\t2\t3\t4\nval_1.JPEG\tn01\t0\t0\t9\t9\n");
    WriteBytes(ds_ / "test" / "images" / "test_0.JPEG", Jpeg(64, 64, 3, 9));  // unlabelled: ignored
  }
  static void WriteText(const fs::path& path, const std::string& text) {
    WriteBytes(path, std::vector<uint8_t>(text.begin(), text.end()));
  }
  absl::StatusOr<ImageSet> LoadTiny(ImageSetOptions options) { return Load(options, ImageLayout::kTinyImageNet); }
};

TEST_F(TinyImageNetTest, LoadsTheReleaseLayout) {
  MakeTiny();
  auto set = LoadTiny(Options());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->classes, (std::vector<std::string>{"n01", "n02"}));
  EXPECT_EQ(set->height, 64);
  EXPECT_EQ(set->parts[0].count, 6);
  ASSERT_EQ(set->parts[2].count, 2);
  // Sorted by class: val_1 (n01), then val_0 (n02).
  EXPECT_EQ(set->parts[2].labels[0], 0);
  EXPECT_EQ(set->parts[2].labels[1], 1);
  EXPECT_FALSE(set->has_validation);
}

TEST_F(TinyImageNetTest, UnlabelledAndUnknownValImagesAreBad) {
  MakeTiny();
  WriteBytes(ds_ / "val" / "images" / "val_9.JPEG", Jpeg(64, 64, 3, 1));
  auto failed = LoadTiny(Options());
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("val/images/val_9.JPEG: no label in val/val_annotations.txt"),
            std::string::npos)
      << failed.status();
  WriteText(ds_ / "val" / "val_annotations.txt",
            "val_0.JPEG\tn02\t1\t2\t3\t4\nval_1.JPEG\tn01\t0\t0\t9\t9\nval_9.JPEG\tn99\t0\t0\t1\t1\n");
  auto unknown = LoadTiny(Options());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("class 'n99' (val/val_annotations.txt) is not in wnids.txt"),
            std::string::npos)
      << unknown.status();
  ImageSetOptions skip = Options();
  skip.skip_bad_images = true;
  auto skipped = LoadTiny(skip);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_EQ(DescribeSkipped(skipped->skipped).rfind("1 bad file skipped: test/n99 1", 0), 0u)
      << DescribeSkipped(skipped->skipped);
}

TEST_F(TinyImageNetTest, WnidWithoutTrainingImagesFails) {
  MakeTiny();
  WriteText(ds_ / "wnids.txt", "n01\nn02\nn03\n");
  auto failed = LoadTiny(Options());
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("class 'n03' (wnids.txt) has no images in train/n03/images"),
            std::string::npos)
      << failed.status();
}

TEST_F(TinyImageNetTest, MissingAnnotationsFail) {
  MakeTiny();
  fs::remove(ds_ / "val" / "val_annotations.txt");
  auto failed = LoadTiny(Options());
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("val_annotations.txt"), std::string::npos) << failed.status();
}

}  // namespace
}  // namespace moe4::worker
