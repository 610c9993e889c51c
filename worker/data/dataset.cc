#include "worker/data/dataset.h"

namespace moe4::worker {

Dataset TakeSubset(const Dataset& dataset, int64_t n, uint64_t seed) {
  if (n <= 0 || n >= dataset.size()) return dataset;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto index = torch::randperm(dataset.size(), generator, torch::TensorOptions().dtype(torch::kLong)).slice(0, 0, n);
  index = std::get<0>(index.sort());
  Dataset subset;
  subset.name = dataset.name;
  subset.images = dataset.images.index_select(0, index).contiguous();
  subset.labels = dataset.labels.index_select(0, index).contiguous();
  subset.num_classes = dataset.num_classes;
  return subset;
}

}  // namespace moe4::worker
