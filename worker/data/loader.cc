#include "worker/data/loader.h"

#include <filesystem>
#include <utility>

#include "absl/status/status.h"
#include "worker/data/cifar_reader.h"
#include "worker/data/folder_dataset.h"
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

absl::StatusOr<DatasetPair> LoadDataset(const moe4::v1::DatasetSpec& spec, const std::string& data_root) {
  LoadOptions options;
  options.data_root = data_root;
  return LoadDataset(spec, options);
}

absl::StatusOr<DatasetPair> LoadDataset(const moe4::v1::DatasetSpec& spec, const LoadOptions& options) {
  const std::string& data_root = options.data_root;
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
  } else if (name == "folder" || name == "tinyimagenet") {
    if (name == "folder" && spec.path().empty()) {
      return absl::InvalidArgumentError("dataset.path: required for a folder dataset (its directory under --data-root)");
    }
    auto dir = DirFor(spec, data_root, {"tinyimagenet", "tiny-imagenet-200"});
    if (!dir.ok()) return dir.status();
    ImageSetOptions image_options;
    image_options.data_root = data_root;
    image_options.cache_dir = options.data_cache;
    image_options.resize = spec.resize();
    image_options.max_image_pixels = options.max_image_pixels;
    image_options.skip_bad_images = spec.skip_bad_images();
    image_options.threads = options.threads;
    pair = LoadImageDataset(name == "folder" ? ImageLayout::kFolder : ImageLayout::kTinyImageNet, *dir, image_options);
  } else {
    return absl::InvalidArgumentError("dataset.name: unknown dataset '" + name +
                                      "' (fashion-mnist, mnist, cifar10, cifar100, synthetic, folder, tinyimagenet)");
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
  if (pair->validation.size() > 0) {
    // A folder's val/: the validation split as given (fraction 0: none).
    if (spec.validation_fraction() == 0) pair->validation = Dataset{};
    return pair;
  }
  auto split = SplitValidation(pair->train, spec.validation_fraction(), spec.split_seed());
  if (!split.ok()) return split.status();
  pair->train = std::move(split->first);
  pair->validation = std::move(split->second);
  return pair;
}

}  // namespace moe4::worker
