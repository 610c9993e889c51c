#include "worker/data/loader.h"

#include <filesystem>
#include <iterator>
#include <utility>

#include "absl/status/status.h"
#include "worker/data/cifar_reader.h"
#include "worker/data/idx_reader.h"
#include "worker/data/synthetic.h"

namespace moe4::worker {
namespace {

absl::StatusOr<std::string> DirFor(const moe4::v1::DatasetSpec& spec, const std::string& data_root,
                                   const std::vector<std::string>& candidates) {
  if (!spec.path().empty()) return ResolveDatasetDir(spec.path(), data_root);
  const std::string root = data_root.empty() ? kDefaultDataRoot : data_root;
  for (const auto& c : candidates) {
    const auto dir = std::filesystem::path(root) / c;
    if (std::filesystem::is_directory(dir)) return dir.string();
  }
  return (std::filesystem::path(root) / candidates.front()).string();
}

}  // namespace

absl::StatusOr<std::string> ResolveDatasetDir(const std::string& path, const std::string& data_root) {
  const std::filesystem::path root_given = data_root.empty() ? kDefaultDataRoot : data_root;
  const std::filesystem::path given = path;
  // Relative paths are taken from the root; an absolute one is accepted when
  // it lies inside it (campaigns stored before paths had to be relative).
  const std::filesystem::path candidate = given.is_absolute() ? given : root_given / given;
  std::error_code ec;
  // weakly_canonical: symlinks resolved along the part that exists, ".."
  // folded lexically in the rest (which has no links to follow).
  const std::filesystem::path root = std::filesystem::weakly_canonical(std::filesystem::absolute(root_given), ec);
  if (ec) {
    return absl::FailedPreconditionError("--data-root " + root_given.string() + ": " + ec.message());
  }
  const std::filesystem::path resolved = std::filesystem::weakly_canonical(candidate, ec);
  if (ec) return absl::NotFoundError("dataset.path '" + path + "': " + ec.message());
  // Inside = the root's components are a prefix of the resolved path's
  // (a string prefix would take /data-other for /data).
  auto r = root.begin();
  auto p = resolved.begin();
  for (; r != root.end() && p != resolved.end() && *r == *p; ++r, ++p) {
  }
  // weakly_canonical keeps a trailing separator as an empty last component.
  const bool inside = r == root.end() || (std::next(r) == root.end() && r->empty());
  if (!inside) {
    return absl::InvalidArgumentError("dataset.path '" + path + "' resolves to " + resolved.string() +
                                      ", outside this worker's --data-root " + root.string() +
                                      " (give a path relative to the data root, without symlinks that leave it)");
  }
  return resolved.string();
}

absl::StatusOr<DatasetPair> LoadDataset(const moe4::v1::DatasetSpec& spec, const std::string& data_root) {
  if (spec.train_subset() < 0 || spec.test_subset() < 0) {
    return absl::InvalidArgumentError("dataset.train_subset/test_subset must be >= 0");
  }
  if (spec.resize() != 0 && (spec.resize() < 8 || spec.resize() > 1024)) {
    return absl::InvalidArgumentError("dataset.resize must be 0 or in [8, 1024], got " + std::to_string(spec.resize()));
  }
  const std::string& name = spec.name();
  absl::StatusOr<DatasetPair> pair;
  if (name.rfind("synthetic", 0) == 0) {
    auto options = ParseSyntheticName(name);
    if (!options.ok()) return options.status();
    if (spec.train_subset() > 0) options->train = spec.train_subset();
    if (spec.test_subset() > 0) options->test = spec.test_subset();
    if (spec.resize() > 0) options->size = spec.resize();
    pair = MakeSyntheticPair(*options);  // already the requested sizes
  } else if (name == "fashion-mnist" || name == "mnist") {
    auto dir = DirFor(spec, data_root, {name});
    if (!dir.ok()) return dir.status();
    pair = LoadIdxDataset(*dir, name);
  } else if (name == "cifar10") {
    auto dir = DirFor(spec, data_root, {"cifar10", "cifar-10-batches-bin"});
    if (!dir.ok()) return dir.status();
    pair = LoadCifar10(*dir);
  } else if (name == "cifar100") {
    auto dir = DirFor(spec, data_root, {"cifar100", "cifar-100-binary"});
    if (!dir.ok()) return dir.status();
    pair = LoadCifar100(*dir);
  } else {
    return absl::InvalidArgumentError("dataset.name: unknown dataset '" + name +
                                      "' (fashion-mnist, mnist, cifar10, cifar100, synthetic)");
  }
  if (!pair.ok()) return pair.status();
  if (name.rfind("synthetic", 0) != 0) {
    pair->train = TakeSubset(pair->train, spec.train_subset(), kSubsetSeed);
    pair->test = TakeSubset(pair->test, spec.test_subset(), kSubsetSeed + 1);
  }
  // The hold-out comes out of the (subset) training set, seeded by the
  // campaign (split_seed), so every job of a campaign validates on the same
  // images; a split that would empty a class is a bad spec (InvalidArgument,
  // not retried).
  auto split = SplitValidation(pair->train, spec.validation_fraction(), spec.split_seed());
  if (!split.ok()) return split.status();
  pair->train = std::move(split->first);
  pair->validation = std::move(split->second);
  return pair;
}

}  // namespace moe4::worker
