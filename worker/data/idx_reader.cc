#include "worker/data/idx_reader.h"

#include <zlib.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "absl/status/status.h"

namespace moe4::worker {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// Reads exactly `size` bytes or says why not.
absl::Status ReadExactly(gzFile file, const std::string& path, void* out, size_t size, const char* what) {
  auto* bytes = static_cast<unsigned char*>(out);
  size_t done = 0;
  while (done < size) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size - done, 1u << 30));
    const int got = gzread(file, bytes + done, chunk);
    if (got < 0) {
      int errnum = 0;
      const char* message = gzerror(file, &errnum);
      return absl::DataLossError(path + ": corrupt data while reading " + what + ": " + message);
    }
    if (got == 0) {
      return absl::DataLossError(path + ": truncated " + what + ": expected " + std::to_string(size) + " bytes, got " +
                                 std::to_string(done));
    }
    done += static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

std::string FindFile(const std::string& dir, const std::string& split, const std::string& kind) {
  // Standard names first, then the "train-images.idx3-ubyte" variant.
  std::string dotted = kind;
  if (auto dash = dotted.find('-'); dash != std::string::npos) dotted[dash] = '.';
  for (const std::string& base : {split + "-" + kind, split + "-" + dotted}) {
    for (const char* suffix : {".gz", ""}) {
      const auto path = std::filesystem::path(dir) / (base + suffix);
      if (std::filesystem::is_regular_file(path)) return path.string();
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<torch::Tensor> ReadIdxFile(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    return absl::NotFoundError(path + ": no such file");
  }
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file) return absl::NotFoundError(path + ": cannot open");
  unsigned char magic[4];
  if (auto s = ReadExactly(file.get(), path, magic, 4, "IDX header"); !s.ok()) {
    return s;
  }
  if (magic[0] != 0 || magic[1] != 0) {
    return absl::InvalidArgumentError(path + ": not an IDX file (bad magic number)");
  }
  if (magic[2] != 0x08) {
    return absl::InvalidArgumentError(path + ": unsupported IDX element type " + std::to_string(magic[2]) +
                                      " (only unsigned bytes, type 8)");
  }
  const int ndims = magic[3];
  if (ndims < 1 || ndims > 4) {
    return absl::InvalidArgumentError(path + ": unsupported IDX rank " + std::to_string(ndims));
  }
  std::vector<int64_t> dims(ndims);
  int64_t total = 1;
  for (int i = 0; i < ndims; ++i) {
    unsigned char b[4];
    if (auto s = ReadExactly(file.get(), path, b, 4, "IDX dimensions"); !s.ok()) {
      return s;
    }
    dims[i] = (int64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    if (dims[i] <= 0 || dims[i] > (int64_t{1} << 31)) {
      return absl::InvalidArgumentError(path + ": bad dimension " + std::to_string(dims[i]));
    }
    // Checked before multiplying: four 2^31 dimensions overflow int64 (UB,
    // found by tests/fuzz/idx_fuzz.cc).
    if (dims[i] > (int64_t{1} << 34) / total) {
      return absl::InvalidArgumentError(path + ": implausibly large (more than 2^34 bytes)");
    }
    total *= dims[i];
  }
  // The header is not trusted with memory: read in chunks, growing the
  // buffer only as data arrives, so a corrupt or truncated file that claims
  // gigabytes fails as "truncated" instead of allocating them (found by
  // tests/fuzz/idx_fuzz.cc: a 44-byte file asked for 9 GB).
  constexpr int64_t kChunk = int64_t{1} << 24;
  std::vector<uint8_t> bytes;
  while (static_cast<int64_t>(bytes.size()) < total) {
    const size_t at = bytes.size();
    const size_t want = static_cast<size_t>(std::min<int64_t>(kChunk, total - static_cast<int64_t>(at)));
    bytes.resize(at + want);
    if (auto s = ReadExactly(file.get(), path, bytes.data() + at, want, "IDX data"); !s.ok()) return s;
  }
  return torch::from_blob(bytes.data(), dims, torch::kUInt8).clone();
}

absl::StatusOr<DatasetPair> LoadIdxDataset(const std::string& dir, const std::string& name) {
  if (!std::filesystem::is_directory(dir)) {
    return absl::NotFoundError(name + ": dataset directory " + dir + " does not exist");
  }
  DatasetPair pair;
  for (const std::string split : {"train", "t10k"}) {
    const std::string images_path = FindFile(dir, split, "images-idx3-ubyte");
    const std::string labels_path = FindFile(dir, split, "labels-idx1-ubyte");
    if (images_path.empty() || labels_path.empty()) {
      return absl::NotFoundError(name + ": missing " + split + "-" +
                                 (images_path.empty() ? "images-idx3" : "labels-idx1") + "-ubyte[.gz] in " + dir);
    }
    auto images = ReadIdxFile(images_path);
    if (!images.ok()) return images.status();
    auto labels = ReadIdxFile(labels_path);
    if (!labels.ok()) return labels.status();
    if (images->dim() != 3) {
      return absl::InvalidArgumentError(images_path + ": expected 3 dimensions [N, H, W], got " +
                                        std::to_string(images->dim()));
    }
    if (labels->dim() != 1 || labels->size(0) != images->size(0)) {
      return absl::InvalidArgumentError(labels_path + ": expected " + std::to_string(images->size(0)) +
                                        " labels to match " + images_path);
    }
    if (labels->numel() > 0 && labels->max().item<int>() >= 10) {
      return absl::InvalidArgumentError(labels_path + ": label out of range [0, 10)");
    }
    Dataset& d = split == "train" ? pair.train : pair.test;
    d.name = name + "/" + (split == "train" ? "train" : "test");
    d.images = images->unsqueeze(1).contiguous();
    d.labels = labels->to(torch::kLong);
    d.num_classes = 10;
  }
  return pair;
}

}  // namespace moe4::worker
