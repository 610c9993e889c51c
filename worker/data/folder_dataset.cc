#include "worker/data/folder_dataset.h"

#include <memory>

namespace moe4::worker {
namespace {

Dataset ToDataset(const ImageSet& set, const ImageSetPart& part, const std::string& name) {
  Dataset d;
  d.name = name;
  d.num_classes = static_cast<int>(set.classes.size());
  // The tensor keeps the set's storage alive; nothing writes through it
  // (subsets and splits index_select into new tensors).
  std::shared_ptr<const void> storage = set.storage;
  d.images = torch::from_blob(const_cast<uint8_t*>(part.images), {part.count, set.channels, set.height, set.width},
                              [storage](void*) {}, torch::TensorOptions().dtype(torch::kUInt8));
  d.labels = torch::from_blob(const_cast<int32_t*>(part.labels), {part.count}, torch::TensorOptions().dtype(torch::kInt))
                 .to(torch::kLong);
  return d;
}

}  // namespace

DatasetPair ToDatasetPair(const ImageSet& set, const std::string& name) {
  DatasetPair pair;
  pair.train = ToDataset(set, set.parts[static_cast<int>(ImageSplit::kTrain)], name + "/train");
  pair.test = ToDataset(set, set.parts[static_cast<int>(ImageSplit::kTest)], name + "/test");
  if (set.has_validation) {
    pair.validation = ToDataset(set, set.parts[static_cast<int>(ImageSplit::kValidation)], name + "/validation");
  }
  pair.skipped = set.skipped;
  return pair;
}

absl::StatusOr<DatasetPair> LoadImageDataset(ImageLayout layout, const std::string& dir, const ImageSetOptions& options) {
  auto set = LoadImageSet(layout, dir, options);
  if (!set.ok()) return set.status();
  return ToDatasetPair(*set, std::string(ImageLayoutName(layout)));
}

}  // namespace moe4::worker
