// Turns a decoded ImageSet (worker/data/image_set.h) into the worker's
// tensors: the folder and tinyimagenet datasets of a DatasetSpec. The image
// tensors share the set's memory (the cache file's mapping, or the decoded
// buffer) instead of copying it. Stateless; safe from any thread.
#ifndef MOE4_WORKER_DATA_FOLDER_DATASET_H_
#define MOE4_WORKER_DATA_FOLDER_DATASET_H_

#include <string>

#include "absl/status/statusor.h"
#include "worker/data/dataset.h"
#include "worker/data/image_set.h"

namespace moe4::worker {

// train and test from the set's parts; validation from val/ when the set
// has it (else empty, for the caller to carve). Names "<name>/train" etc.
DatasetPair ToDatasetPair(const ImageSet& set, const std::string& name);

// Loads `layout` from `dir` with `options` and converts it.
absl::StatusOr<DatasetPair> LoadImageDataset(ImageLayout layout, const std::string& dir, const ImageSetOptions& options);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_FOLDER_DATASET_H_
