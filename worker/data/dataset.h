// An image-classification dataset held in memory: uint8 images [N, C, H, W]
// and int64 labels [N], on the CPU. Loaded once per job and only read after
// that, so sharing a const Dataset between threads is safe.
#ifndef MOE4_WORKER_DATA_DATASET_H_
#define MOE4_WORKER_DATA_DATASET_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/data/image_listing.h"  // BadImage

namespace moe4::worker {

struct Dataset {
  std::string name;      // e.g. "fashion-mnist/train", for messages
  torch::Tensor images;  // uint8 [N, C, H, W], contiguous, CPU
  torch::Tensor labels;  // int64 [N] in [0, num_classes)
  int num_classes = 0;

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  int channels() const { return static_cast<int>(images.size(1)); }
  int height() const { return static_cast<int>(images.size(2)); }
  int width() const { return static_cast<int>(images.size(3)); }
};

struct DatasetPair {
  Dataset train;       // what the optimiser sees (the hold-out removed)
  Dataset test;
  Dataset validation;  // held out of the training set (or a folder's val/); empty (size 0) without a split
  // folder/tinyimagenet with dataset.skip_bad_images: the files left out,
  // with their class and why (DescribeSkipped summarises them).
  std::vector<BadImage> skipped;
};

// A deterministic subset of `n` examples (all when n <= 0 or n >= size),
// drawn with its own generator seeded by `seed`, kept in the original order.
Dataset TakeSubset(const Dataset& dataset, int64_t n, uint64_t seed);

// Splits `train` into (training, validation), stratified by class: of each
// class's n images, ValidationImagesOfClass(fraction, n) (common/
// campaign_spec.h) chosen by a generator seeded with `seed` go to validation;
// both parts keep the original order. fraction 0 returns (train, empty).
// InvalidArgument, naming the class and its image count, when the split
// would leave a class that has training images without validation images
// or without training images.
absl::StatusOr<std::pair<Dataset, Dataset>> SplitValidation(const Dataset& train, double fraction, uint64_t seed);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_DATASET_H_
