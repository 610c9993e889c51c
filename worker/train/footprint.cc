#include "worker/train/footprint.h"

#include <malloc.h>

#include <algorithm>
#include <functional>
#include <stdexcept>

#include "worker/moe/gate.h"

namespace moe4::worker {
namespace {

int64_t HeapInUse() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks + info.hblkhd);
}

int64_t CountParameters(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

// Bytes per image that one training-mode forward keeps alive for backward
// (its output included, which is a few logits).
int64_t ActivationBytesPerImage(torch::nn::Module& module, const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                                int size) {
  module.train();
  torch::manual_seed(0);
  const auto input = torch::randn({kFootprintBatch, kFootprintChannels, size, size});
  { auto warm = forward(input); }
  const int64_t before = HeapInUse();
  int64_t after = 0;
  {
    auto out = forward(input);
    after = HeapInUse();
  }
  return std::max<int64_t>(0, (after - before) / kFootprintBatch);
}

torch::nn::AnyModule Build(const FamilyRegistry& registry, Catalogue catalogue, const std::string& family,
                           double width, int classes, int size) {
  ExpertOptions options;
  options.in_channels = kFootprintChannels;
  options.image_size = size;
  options.num_classes = classes;
  options.width = width;
  options.catalogue = catalogue;
  return registry.Create(family, options);
}

}  // namespace

int FootprintSmallSize(Catalogue catalogue, const std::string& family) {
  return std::max(32, MinimumImageSize(catalogue, family));
}

int FootprintLargeSize(Catalogue catalogue, const std::string& family) {
  const int large = 2 * FootprintSmallSize(catalogue, family);
  const int maximum = MaximumImageSize(catalogue, family);
  return maximum > 0 ? std::min(large, maximum) : large;
}

absl::StatusOr<FamilyFootprint> MeasureFamilyFootprint(const FamilyRegistry& registry, Catalogue catalogue,
                                                       const std::string& family) {
  FamilyFootprint row;
  row.catalogue = CatalogueName(catalogue);
  row.family = family;  // the caller keeps `family` alive while it uses the row
  row.small_size = FootprintSmallSize(catalogue, family);
  row.large_size = FootprintLargeSize(catalogue, family);
  try {
    auto run = [](torch::nn::AnyModule& m) {
      return [&m](const torch::Tensor& x) { return m.forward(x); };
    };
    {
      auto full = Build(registry, catalogue, family, 1.0, kFootprintClasses, row.small_size);
      row.parameters = CountParameters(*full.ptr());
      row.activation_bytes_small = ActivationBytesPerImage(*full.ptr(), run(full), row.small_size);
    }
    {
      auto large = Build(registry, catalogue, family, 1.0, kFootprintClasses, row.large_size);
      row.activation_bytes_large = ActivationBytesPerImage(*large.ptr(), run(large), row.large_size);
    }
    {
      auto half = Build(registry, catalogue, family, 0.5, kFootprintClasses, row.small_size);
      row.parameters_half_width = CountParameters(*half.ptr());
      row.activation_bytes_half_width = ActivationBytesPerImage(*half.ptr(), run(half), row.small_size);
    }
    {
      auto many = Build(registry, catalogue, family, 1.0, 100, row.small_size);
      row.parameters_per_class = std::max<int64_t>(0, (CountParameters(*many.ptr()) - row.parameters) / 90);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(std::string(CatalogueName(catalogue)) + " " + family + ": " + e.what());
  }
  return row;
}

FamilyFootprint MeasureGateFootprint() {
  FamilyFootprint row;
  row.catalogue = "";
  row.family = "gate";
  row.small_size = 32;
  row.large_size = 64;
  GateOptions options;
  options.in_channels = kFootprintChannels;
  options.num_experts = kFootprintGateExperts;
  Gate gate(options);
  auto forward = [&gate](const torch::Tensor& x) { return gate->forward(x).weights; };
  row.parameters = row.parameters_half_width = CountParameters(*gate);
  row.activation_bytes_small = row.activation_bytes_half_width = ActivationBytesPerImage(*gate, forward, 32);
  row.activation_bytes_large = ActivationBytesPerImage(*gate, forward, 64);
  return row;
}

}  // namespace moe4::worker
