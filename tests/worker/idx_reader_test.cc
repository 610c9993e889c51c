#include "worker/data/idx_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"
#include "worker/data/loader.h"

namespace moe4::worker {
namespace {

using testing::ScratchDir;

std::string IdxBytes(const std::vector<int>& dims, const std::vector<uint8_t>& data) {
  std::string bytes = {0, 0, 8, static_cast<char>(dims.size())};
  for (int d : dims) {
    bytes.push_back(static_cast<char>((d >> 24) & 0xff));
    bytes.push_back(static_cast<char>((d >> 16) & 0xff));
    bytes.push_back(static_cast<char>((d >> 8) & 0xff));
    bytes.push_back(static_cast<char>(d & 0xff));
  }
  bytes.append(data.begin(), data.end());
  return bytes;
}

void WriteRaw(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

void WriteGz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

std::vector<uint8_t> Ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 % 256);
  return v;
}

TEST(IdxReaderTest, ReadsRawAndGzipped) {
  ScratchDir dir;
  const auto data = Ramp(2 * 3 * 4);
  WriteRaw(dir.File("a.idx"), IdxBytes({2, 3, 4}, data));
  WriteGz(dir.File("a.idx.gz"), IdxBytes({2, 3, 4}, data));
  for (const auto& name : {"a.idx", "a.idx.gz"}) {
    auto t = ReadIdxFile(dir.File(name));
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->sizes(), (std::vector<int64_t>{2, 3, 4}));
    EXPECT_EQ(t->dtype(), torch::kUInt8);
    EXPECT_EQ((*t)[1][2][3].item<int>(), data[23]);
    EXPECT_EQ((*t)[0][1][0].item<int>(), data[4]);
  }
}

TEST(IdxReaderTest, CorruptFilesNameTheFileAndTheProblem) {
  ScratchDir dir;
  WriteRaw(dir.File("magic"), std::string("\x01\x02\x08\x01\x00\x00\x00\x01x", 9));
  WriteRaw(dir.File("short"), IdxBytes({10, 10}, Ramp(50)));
  WriteRaw(dir.File("type"), std::string("\x00\x00\x0d\x01\x00\x00\x00\x01xxxx", 12));
  std::string gz_bad = "\x1f\x8b\x08\x00garbage-that-is-not-deflate";
  WriteRaw(dir.File("bad.gz"), gz_bad);
  struct Case {
    const char* file;
    const char* expect;
  } cases[] = {{"magic", "bad magic"},
               {"short", "truncated IDX data"},
               {"type", "element type"},
               {"bad.gz", ""},
               {"missing", "no such file"}};
  for (const auto& c : cases) {
    auto t = ReadIdxFile(dir.File(c.file));
    ASSERT_FALSE(t.ok()) << c.file;
    const std::string message(t.status().message());
    EXPECT_NE(message.find(dir.File(c.file)), std::string::npos) << message;
    EXPECT_NE(message.find(c.expect), std::string::npos) << message;
  }
}

TEST(IdxReaderTest, LoadsAMnistStyleDirectory) {
  ScratchDir dir;
  WriteGz(dir.File("train-images-idx3-ubyte.gz"), IdxBytes({5, 28, 28}, Ramp(5 * 784)));
  WriteGz(dir.File("train-labels-idx1-ubyte.gz"), IdxBytes({5}, {0, 1, 2, 3, 9}));
  WriteRaw(dir.File("t10k-images-idx3-ubyte"), IdxBytes({2, 28, 28}, Ramp(2 * 784)));
  WriteRaw(dir.File("t10k-labels-idx1-ubyte"), IdxBytes({2}, {4, 5}));
  auto pair = LoadIdxDataset(dir.path(), "mnist");
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->train.images.sizes(), (std::vector<int64_t>{5, 1, 28, 28}));
  EXPECT_EQ(pair->test.size(), 2);
  EXPECT_EQ(pair->train.labels[4].item<int64_t>(), 9);
  EXPECT_EQ(pair->test.labels[1].item<int64_t>(), 5);
  EXPECT_EQ(pair->train.num_classes, 10);
}

TEST(IdxReaderTest, DirectoryErrorsNameWhatIsMissingOrWrong) {
  ScratchDir dir;
  auto missing = LoadIdxDataset(dir.File("nope"), "mnist");
  EXPECT_NE(std::string(missing.status().message()).find("does not exist"), std::string::npos);
  WriteRaw(dir.File("train-images-idx3-ubyte"), IdxBytes({2, 28, 28}, Ramp(2 * 784)));
  auto no_labels = LoadIdxDataset(dir.path(), "mnist");
  EXPECT_NE(std::string(no_labels.status().message()).find("train-labels-idx1"), std::string::npos)
      << no_labels.status();
  WriteRaw(dir.File("train-labels-idx1-ubyte"), IdxBytes({3}, {1, 2, 3}));
  WriteRaw(dir.File("t10k-images-idx3-ubyte"), IdxBytes({2, 28, 28}, Ramp(2 * 784)));
  WriteRaw(dir.File("t10k-labels-idx1-ubyte"), IdxBytes({2}, {1, 2}));
  auto mismatch = LoadIdxDataset(dir.path(), "mnist");
  EXPECT_NE(std::string(mismatch.status().message()).find("train-labels-idx1-ubyte"), std::string::npos)
      << mismatch.status();
}

TEST(IdxReaderTest, ReadsTheInstalledFashionMnistWhenPresent) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (" << dir << ")";
  }
  auto t = ReadIdxFile(dir + "/t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->size(0), 10000);
}

void WriteMnistDir(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  WriteRaw((dir / "train-images-idx3-ubyte").string(), IdxBytes({4, 28, 28}, Ramp(4 * 784)));
  WriteRaw((dir / "train-labels-idx1-ubyte").string(), IdxBytes({4}, {0, 1, 0, 1}));
  WriteRaw((dir / "t10k-images-idx3-ubyte").string(), IdxBytes({2, 28, 28}, Ramp(2 * 784)));
  WriteRaw((dir / "t10k-labels-idx1-ubyte").string(), IdxBytes({2}, {0, 1}));
}

TEST(DatasetPathTest, PathsResolveInsideTheDataRootOnly) {
  ScratchDir scratch;
  const std::filesystem::path root = std::filesystem::path(scratch.path()) / "root";
  const std::filesystem::path outside = std::filesystem::path(scratch.path()) / "secret";
  WriteMnistDir(root / "mnist-v2");
  WriteMnistDir(outside);
  std::filesystem::create_directories(root / "links");
  std::filesystem::create_directory_symlink(outside, root / "links" / "escape");            // leaves the root
  std::filesystem::create_directory_symlink(root / "mnist-v2", root / "links" / "inside");  // stays in it
  std::filesystem::create_directories(std::filesystem::path(scratch.path()) / "root-other");

  struct Case {
    std::string path;
    bool ok;
  } cases[] = {
      {"mnist-v2", true},
      {"./mnist-v2/", true},
      {"links/inside", true},
      {"links/../mnist-v2", true},
      {(root / "mnist-v2").string(), true},  // absolute, inside: campaigns stored before the rule
      {"links/escape", false},                // a symlink out of the root
      {"../secret", false},
      {"mnist-v2/../../secret", false},
      {outside.string(), false},
      {"../root-other", false},  // shares the root's name as a prefix, not its directory
      {"/etc", false},
  };
  for (const auto& c : cases) {
    auto dir = ResolveDatasetDir(c.path, root.string());
    EXPECT_EQ(dir.ok(), c.ok) << c.path << ": " << (dir.ok() ? *dir : dir.status().ToString());
    if (!c.ok && !dir.ok()) {
      const std::string message(dir.status().message());
      EXPECT_EQ(dir.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_NE(message.find("dataset.path '" + c.path + "'"), std::string::npos) << message;
      EXPECT_NE(message.find("outside this worker's --data-root " +
                             std::filesystem::weakly_canonical(root).string()),
                std::string::npos)
          << message;
    }
  }

  // Through LoadDataset: the escaping symlink fails before any file is read,
  // as a bad spec (InvalidArgument: the agent fails the job without retry).
  moe4::v1::DatasetSpec spec;
  spec.set_name("mnist");
  spec.set_path("links/escape");
  auto escaped = LoadDataset(spec, root.string());
  ASSERT_FALSE(escaped.ok());
  EXPECT_EQ(escaped.status().code(), absl::StatusCode::kInvalidArgument) << escaped.status();
  spec.set_path("links/inside");
  auto loaded = LoadDataset(spec, root.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->test.size(), 2);
  // No path: the default directory under the root, as before.
  WriteMnistDir(root / "mnist");
  spec.clear_path();
  EXPECT_TRUE(LoadDataset(spec, root.string()).ok());
}

}  // namespace
}  // namespace moe4::worker
