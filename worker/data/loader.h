// Resolves a job's DatasetSpec to in-memory train/test sets: picks the reader,
// the directory (spec.path under data_root, else <data_root>/<default dir>), and the seeded
// subsets. Stateless; safe from any thread.
#ifndef MOE4_WORKER_DATA_LOADER_H_
#define MOE4_WORKER_DATA_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "moe4/v1/moe4.pb.h"
#include "worker/data/data_root.h"  // ResolveDatasetDir, kDefaultDataRoot
#include "worker/data/dataset.h"
#include "worker/data/image_decode.h"  // kDefaultMaxImagePixels

namespace moe4::worker {

// Subsets use this fixed seed so that every job of a campaign (and every
// attempt of a job) trains and tests on the same images.
inline constexpr uint64_t kSubsetSeed = 0x6d6f6534;  // "moe4"

// What a worker (moe4-worker, moe4-train) brings to loading a dataset.
struct LoadOptions {
  std::string data_root;  // --data-root; "" = kDefaultDataRoot
  // --data-cache: where folder/tinyimagenet keep decoded images; "" =
  // <dataset directory>/.moe4-cache, "none" = no cache.
  std::string data_cache;
  // --max-image-pixels: larger images (by their header) are bad files.
  int64_t max_image_pixels = kDefaultMaxImagePixels;
  int threads = 0;  // decoding threads; 0 = every core
};

// Loads fashion-mnist | mnist | cifar10 | cifar100 | synthetic[:k=v,...] |
// folder | tinyimagenet. Default directories under data_root: fashion-mnist,
// mnist, cifar10 (or cifar-10-batches-bin), cifar100 (or cifar-100-binary),
// tinyimagenet (or tiny-imagenet-200); folder needs dataset.path. For
// synthetic, train_subset/test_subset set the image counts and resize the
// side. Then spec.validation_fraction of the training images, stratified by
// class and seeded by spec.split_seed, become DatasetPair::validation
// (SplitValidation; InvalidArgument when a class would be left empty),
// unless a folder dataset has val/, which is then the validation split
// (validation_fraction 0 still means none).
absl::StatusOr<DatasetPair> LoadDataset(const moe4::v1::DatasetSpec& spec, const LoadOptions& options);
absl::StatusOr<DatasetPair> LoadDataset(const moe4::v1::DatasetSpec& spec, const std::string& data_root);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_LOADER_H_
