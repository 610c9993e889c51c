#include "worker/data/dataset.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/campaign_spec.h"

namespace moe4::worker {
namespace {

Dataset Select(const Dataset& dataset, const torch::Tensor& sorted_index, const std::string& name) {
  Dataset out;
  out.name = name;
  out.images = dataset.images.index_select(0, sorted_index).contiguous();
  out.labels = dataset.labels.index_select(0, sorted_index).contiguous();
  out.num_classes = dataset.num_classes;
  return out;
}

}  // namespace

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

namespace moe4::worker {

absl::StatusOr<std::pair<Dataset, Dataset>> SplitValidation(const Dataset& train, double fraction, uint64_t seed) {
  if (!(fraction >= 0 && fraction <= 0.5)) {
    return absl::InvalidArgumentError(absl::StrCat("dataset.validation_fraction must be in [0, 0.5], got ", fraction));
  }
  if (fraction == 0 || train.size() == 0) return std::make_pair(train, Dataset{});
  // One generator, the classes in order: the same seed and training set give
  // the same hold-out on every worker, for every job of a campaign.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor labels = train.labels.to(torch::kCPU);
  std::vector<torch::Tensor> held_out, kept;
  for (int c = 0; c < train.num_classes; ++c) {
    const torch::Tensor index = labels.eq(c).nonzero().flatten();
    const int64_t n = index.size(0);
    if (n == 0) continue;  // absent from the training set: nothing to hold out
    const int64_t v = ValidationImagesOfClass(fraction, n);
    if (v < 1 || n - v < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dataset.validation_fraction: ", fraction, " of class ", c, "'s ", n, " training image", n == 1 ? "" : "s",
          " in ", train.name, " leaves the class without ", v < 1 ? "validation" : "training",
          " images (use a larger dataset.train_subset or validation_fraction)"));
    }
    const torch::Tensor order = index.index_select(0, torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kLong)));
    held_out.push_back(order.slice(0, 0, v));
    kept.push_back(order.slice(0, v));
  }
  const torch::Tensor validation_index = std::get<0>(torch::cat(held_out).sort());
  const torch::Tensor training_index = std::get<0>(torch::cat(kept).sort());
  return std::make_pair(Select(train, training_index, train.name), Select(train, validation_index, train.name + "/validation"));
}

}  // namespace moe4::worker
