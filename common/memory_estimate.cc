#include "common/memory_estimate.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/precision_name.h"
#include "common/family_footprint.h"

namespace moe4 {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kInputCopies = 4;

// Exponent of `value` against `scale` between two measurements; 0 when a
// measurement is missing. Clamped to what a network can do (nothing grows
// faster than the cube of width, nor the square of pixels: global attention).
double Exponent(double value_hi, double value_lo, double scale_hi, double scale_lo, double max_exponent) {
  if (value_hi <= 0 || value_lo <= 0 || scale_hi <= scale_lo) return 0;
  return std::clamp(std::log(value_hi / value_lo) / std::log(scale_hi / scale_lo), 0.0, max_exponent);
}

double ParametersAt(const FamilyFootprint& row, double width, int classes) {
  const double e = Exponent(static_cast<double>(row.parameters), static_cast<double>(row.parameters_half_width),
                            1.0, 0.5, 3.0);
  const double body = static_cast<double>(row.parameters) * std::pow(width, e);
  // The heads' inputs scale with width; the table measured 10 classes.
  const double head = static_cast<double>(row.parameters_per_class) * width * (classes - kFootprintClasses);
  return std::max(0.0, body + head);
}

// Activation bytes per image at width 1 for `pixels` input pixels.
double ActivationsAtPixels(const FamilyFootprint& row, double pixels) {
  const double p1 = static_cast<double>(row.small_size) * row.small_size;
  const double p2 = static_cast<double>(row.large_size) * row.large_size;
  const double a1 = static_cast<double>(row.activation_bytes_small);
  const double a2 = static_cast<double>(row.activation_bytes_large);
  if (p2 <= p1 || a1 <= 0) return std::max(a1, 0.0);
  if (a2 > a1 * (p2 / p1)) {
    // Faster than the pixels (attention over all tokens): the power law,
    // which overestimates between the points and keeps growing beyond.
    return a1 * std::pow(pixels / p1, Exponent(a2, a1, p2, p1, 2.0));
  }
  // A fixed part plus a part proportional to pixels (the straight line
  // through both points), never below zero.
  const double slope = std::max(0.0, (a2 - a1) / (p2 - p1));
  return std::max(0.0, a1 + slope * (pixels - p1));
}

double ActivationsAt(const FamilyFootprint& row, double pixels, double width) {
  const double e = Exponent(static_cast<double>(row.activation_bytes_small),
                            static_cast<double>(row.activation_bytes_half_width), 1.0, 0.5, 2.0);
  return ActivationsAtPixels(row, pixels) * std::pow(width, e);
}

// What a recipe.precision means for the bytes: {half-precision weights
// copy, half-precision activations}. auto is mixed on a GPU, fp32 on a CPU,
// and where the device is not known the larger figure of each.
struct PrecisionCost {
  bool half_weights_copy;
  bool half_activations;
};

PrecisionCost CostOf(moe4::v1::Precision p, const std::string& device_kind) {
  switch (p) {
    case moe4::v1::PRECISION_BF16:
    case moe4::v1::PRECISION_FP16:
      return {true, true};
    case moe4::v1::PRECISION_AUTO:
      if (device_kind == "cuda") return {true, true};
      if (device_kind == "cpu") return {false, false};
      return {true, false};
    default:
      return {false, false};
  }
}

// "synthetic:channels=1,size=28": the value of `key`, or `fallback`.
int SyntheticOption(const std::string& name, const std::string& key, int fallback) {
  const size_t at = name.find(key + "=");
  if (at == std::string::npos) return fallback;
  const std::string rest = name.substr(at + key.size() + 1);
  int value = 0;
  return absl::SimpleAtoi(rest.substr(0, rest.find(',')), &value) && value > 0 ? value : fallback;
}

}  // namespace

JobMemoryEstimate EstimateJobMemory(const JobMemoryInput& input) {
  JobMemoryEstimate out;
  const double pixels = static_cast<double>(input.image_size) * input.image_size;
  const double batch = std::max(1, input.batch_size);
  const PrecisionCost cost = CostOf(input.precision, input.device_kind);
  const double bytes_per_parameter = cost.half_weights_copy ? 18 : 16;
  const double activation_factor = cost.half_activations ? 0.6 : 1.0;

  double parameters = 0;
  double activations = 0;
  auto add = [&](const FamilyFootprint& row, double width) {
    parameters += ParametersAt(row, width, input.classes);
    activations += ActivationsAt(row, pixels, width) * batch * activation_factor;
  };
  for (const std::string& family : input.families) {
    const FamilyFootprint* row = FindFamilyFootprint(input.catalogue, family);
    if (row == nullptr) {
      out.unmeasured.push_back(family);
      continue;
    }
    add(*row, input.width);
  }
  add(GateFootprint(), 1.0);  // the gate's size is fixed by the design
  activations += kInputCopies * batch * input.channels * pixels * 4;

  out.parameters = static_cast<int64_t>(std::llround(parameters));
  out.parameter_bytes = static_cast<int64_t>(std::llround(parameters * bytes_per_parameter));
  out.activation_bytes = static_cast<int64_t>(std::llround(std::min(activations, 9e18)));
  const double total = (static_cast<double>(out.parameter_bytes) + activations) * kMemorySafetyFactor / kMiB;
  out.total_mb = static_cast<int64_t>(std::ceil(std::min(total, 9e15))) + kMemoryRuntimeOverheadMb;
  return out;
}

int DatasetChannels(const moe4::v1::DatasetSpec& dataset) {
  const std::string& name = dataset.name();
  if (name == "fashion-mnist" || name == "mnist") return 1;
  if (name.rfind("synthetic", 0) == 0) return SyntheticOption(name, "channels", 3);
  return 3;
}

int DatasetClasses(const moe4::v1::DatasetSpec& dataset) {
  const std::string& name = dataset.name();
  if (name == "cifar100") return 100;
  if (name == "tinyimagenet") return 200;
  if (name == "folder") return 100;
  if (name.rfind("synthetic", 0) == 0) return SyntheticOption(name, "classes", 10);
  return 10;
}

JobMemoryInput JobMemoryInputOf(const CampaignSpec& spec, const std::vector<std::string>& families,
                                const std::string& device_kind) {
  JobMemoryInput input;
  input.device_kind = device_kind.empty() ? spec.requirements.device_kind() : device_kind;
  input.catalogue = spec.catalogue;
  input.families = families;
  input.width = spec.recipe.width();
  input.batch_size = spec.recipe.batch_size();
  input.image_size = InputImageSize(spec.dataset);
  if (input.image_size <= 0) {
    input.image_size = 32;
    for (const std::string& family : families) {
      if (const FamilyFootprint* row = FindFamilyFootprint(spec.catalogue, family)) {
        input.image_size = std::max(input.image_size, row->small_size);
      }
    }
  }
  input.channels = DatasetChannels(spec.dataset);
  input.classes = DatasetClasses(spec.dataset);
  input.precision = spec.recipe.precision();
  return input;
}

CampaignMemoryEstimate EstimateCampaignMemory(const CampaignSpec& spec,
                                              const std::vector<std::vector<std::string>>& combinations,
                                              const std::string& device_kind) {
  CampaignMemoryEstimate out;
  std::map<std::vector<std::string>, int64_t> seen;  // replicates repeat a combination
  std::vector<std::string> unmeasured;
  for (const auto& families : combinations) {
    auto [it, fresh] = seen.try_emplace(families, 0);
    if (fresh) {
      const JobMemoryEstimate estimate = EstimateJobMemory(JobMemoryInputOf(spec, families, device_kind));
      it->second = estimate.total_mb;
      for (const auto& f : estimate.unmeasured) {
        if (std::find(unmeasured.begin(), unmeasured.end(), f) == unmeasured.end()) unmeasured.push_back(f);
      }
    }
    const int64_t mb = it->second;
    out.combination_mb.push_back(mb);
    if (mb > out.heaviest_mb) {
      out.heaviest_mb = mb;
      out.heaviest_families = families;
    }
    if (out.lightest_mb == 0 || mb < out.lightest_mb) out.lightest_mb = mb;
  }
  if (!unmeasured.empty()) {
    out.warnings.push_back(absl::StrCat("memory: no measured footprint for ", absl::StrJoin(unmeasured, ", "),
                                        " in the ", std::string(CatalogueName(spec.catalogue)),
                                        " catalogue: the estimate leaves them out (regenerate the table: ",
                                        std::string(kFootprintRegenerateCommand), ")"));
  }
  if (InputImageSize(spec.dataset) <= 0) {
    out.warnings.push_back(
        "memory: without dataset.resize the image size of a folder dataset is unknown here, so the estimate counts "
        "small images; set dataset.resize for a real figure");
  }
  return out;
}

std::string MemoryEstimateFields(const CampaignSpec& spec) {
  const int size = InputImageSize(spec.dataset);
  const std::string input =
      spec.dataset.resize() > 0
          ? absl::StrCat("dataset.resize ", spec.dataset.resize())
          : (size > 0 ? absl::StrCat("dataset ", spec.dataset.name(), " at ", size, "x", size, " px")
                      : absl::StrCat("dataset ", spec.dataset.name(), " at an unknown size"));
  return absl::StrCat("recipe.batch_size ", spec.recipe.batch_size(), ", ", input, ", recipe.width ",
                      spec.recipe.width(), ", recipe.precision ", std::string(PrecisionSpecName(spec.recipe.precision())),
                      ", ", std::string(CatalogueName(spec.catalogue)), " catalogue");
}

}  // namespace moe4
