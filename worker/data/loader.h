// Resolves a job's DatasetSpec to in-memory train/test sets: picks the reader,
// the directory (spec.path under data_root, else <data_root>/<default dir>), and the seeded
// subsets. Stateless; safe from any thread.
#ifndef MOE4_WORKER_DATA_LOADER_H_
#define MOE4_WORKER_DATA_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "moe4/v1/moe4.pb.h"
#include "worker/data/dataset.h"

namespace moe4::worker {

// Where datasets live when neither the spec nor --data-root says otherwise
// (Debian's dataset-fashion-mnist installs under it).
inline constexpr char kDefaultDataRoot[] = "/usr/share/datasets";

// Subsets use this fixed seed so that every job of a campaign (and every
// attempt of a job) trains and tests on the same images.
inline constexpr uint64_t kSubsetSeed = 0x6d6f6534;  // "moe4"

// The directory a spec's dataset.path names, resolved after symlinks
// (std::filesystem::weakly_canonical): a relative path is taken from
// data_root ("" = kDefaultDataRoot), an absolute one as it is. Either must
// end up inside the data root, so a campaign cannot point workers at any
// file on their disks (`path: ../../../../etc`); InvalidArgument naming the
// path, where it resolved to and the root otherwise (a bad spec: the agent
// fails the job without a retry). Files inside an accepted directory are
// the operator's and are not checked.
absl::StatusOr<std::string> ResolveDatasetDir(const std::string& path, const std::string& data_root);

// Loads fashion-mnist | mnist | cifar10 | cifar100 | synthetic[:k=v,...].
// Default directories under data_root: fashion-mnist, mnist, cifar10 (or
// cifar-10-batches-bin), cifar100 (or cifar-100-binary). For synthetic,
// train_subset/test_subset set the image counts and resize the side. Then
// spec.validation_fraction of the training images, stratified by class and
// seeded by spec.split_seed, become DatasetPair::validation
// (SplitValidation; InvalidArgument when a class would be left empty).
absl::StatusOr<DatasetPair> LoadDataset(const moe4::v1::DatasetSpec& spec, const std::string& data_root);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_LOADER_H_
