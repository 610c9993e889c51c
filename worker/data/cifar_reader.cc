#include "worker/data/cifar_reader.h"

#include <filesystem>
#include <fstream>

#include "absl/status/status.h"

namespace moe4::worker {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

// The release unpacks into a subdirectory; accept either level.
std::string ResolveDir(const std::string& dir, const std::string& subdir, const std::string& probe) {
  const auto nested = std::filesystem::path(dir) / subdir;
  if (std::filesystem::is_regular_file(nested / probe)) return nested.string();
  return dir;
}

}  // namespace

absl::StatusOr<Dataset> ReadCifarFiles(const std::vector<std::string>& paths, int label_bytes, int num_classes,
                                       const std::string& name) {
  const int64_t record = label_bytes + kPixels;
  std::vector<torch::Tensor> images;
  std::vector<torch::Tensor> labels;
  for (const auto& path : paths) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return absl::NotFoundError(path + ": " + ec.message());
    if (size == 0 || size % record != 0) {
      return absl::DataLossError(path + ": size " + std::to_string(size) + " is not a positive multiple of the " +
                                 std::to_string(record) + "-byte CIFAR record (truncated or not a CIFAR binary file)");
    }
    const int64_t n = static_cast<int64_t>(size) / record;
    auto raw = torch::empty({n, record}, torch::kUInt8);
    std::ifstream in(path, std::ios::binary);
    if (!in.read(reinterpret_cast<char*>(raw.data_ptr<uint8_t>()), static_cast<std::streamsize>(size))) {
      return absl::DataLossError(path + ": read failed");
    }
    auto label = raw.select(1, label_bytes - 1).to(torch::kLong);
    if (label.max().item<int64_t>() >= num_classes) {
      return absl::InvalidArgumentError(path + ": label " + std::to_string(label.max().item<int64_t>()) +
                                        " out of range [0, " + std::to_string(num_classes) + ")");
    }
    labels.push_back(label);
    images.push_back(raw.slice(1, label_bytes).reshape({n, 3, 32, 32}));
  }
  if (images.empty()) return absl::InvalidArgumentError(name + ": no files");
  Dataset d;
  d.name = name;
  d.images = torch::cat(images).contiguous();
  d.labels = torch::cat(labels).contiguous();
  d.num_classes = num_classes;
  return d;
}

absl::StatusOr<DatasetPair> LoadCifar10(const std::string& dir) {
  const std::string root = ResolveDir(dir, "cifar-10-batches-bin", "test_batch.bin");
  std::vector<std::string> train;
  for (int i = 1; i <= 5; ++i) {
    train.push_back((std::filesystem::path(root) / ("data_batch_" + std::to_string(i) + ".bin")).string());
  }
  DatasetPair pair;
  auto t = ReadCifarFiles(train, 1, 10, "cifar10/train");
  if (!t.ok()) return t.status();
  auto e = ReadCifarFiles({(std::filesystem::path(root) / "test_batch.bin").string()}, 1, 10, "cifar10/test");
  if (!e.ok()) return e.status();
  pair.train = std::move(*t);
  pair.test = std::move(*e);
  return pair;
}

absl::StatusOr<DatasetPair> LoadCifar100(const std::string& dir) {
  const std::string root = ResolveDir(dir, "cifar-100-binary", "test.bin");
  DatasetPair pair;
  auto t = ReadCifarFiles({(std::filesystem::path(root) / "train.bin").string()}, 2, 100, "cifar100/train");
  if (!t.ok()) return t.status();
  auto e = ReadCifarFiles({(std::filesystem::path(root) / "test.bin").string()}, 2, 100, "cifar100/test");
  if (!e.ok()) return e.status();
  pair.train = std::move(*t);
  pair.test = std::move(*e);
  return pair;
}

}  // namespace moe4::worker
