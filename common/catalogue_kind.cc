#include "common/catalogue_kind.h"

#include <map>
#include <string>

namespace moe4 {

std::string_view CatalogueName(Catalogue catalogue) {
  switch (catalogue) {
    case Catalogue::kLemur:
      return "lemur";
    case Catalogue::kAdapted:
      return "adapted";
  }
  return "lemur";
}

std::optional<Catalogue> ParseCatalogue(std::string_view name) {
  if (name == "lemur") return Catalogue::kLemur;
  if (name == "adapted") return Catalogue::kAdapted;
  return std::nullopt;
}

namespace {

// The adapted designs plan their downsampling from the input size
// (worker/models/layers.h) and take anything the registry accepts.
constexpr int kAdaptedMinimum = 8;

// Measured on the ports in worker/models/lemur/ (tests/worker/lemur_parity_test.cc
// checks every row).
const std::map<std::string, int, std::less<>>& LemurMinimums() {
  static const auto* table = new std::map<std::string, int, std::less<>>{
      {"AirNet", 8},
      {"AirNext", 8},
      {"AlexNet", 63},
      {"BagNet", 8},
      {"BayesianNet-1", 31},
      {"ConvNeXt", 32},
      {"DPN107", 8},
      {"DPN131", 8},
      {"DPN68", 8},
      {"DarkNet", 8},
      {"DenseNet", 29},
      {"Diffuser", 8},
      {"EfficientNet", 8},
      {"FractalNet", 32},
      {"GoogLeNet", 15},
      {"ICNet", 8},
      {"InceptionV3-1", 75},
      {"MNASNet", 8},
      {"MaxVit", 8},
      {"MobileNetV2", 8},
      {"MobileNetV3", 8},
      {"RegNet", 8},
      {"ResNet", 8},
      {"ShuffleNet", 8},
      {"SqueezeNet-1", 21},
      {"SwinTransformer", 8},
      {"UNet2D", 8},
      {"VGG", 32},
      {"VisionTransformer", 8},
  };
  return *table;
}

}  // namespace

int MaximumImageSize(Catalogue catalogue, std::string_view family) {
  if (catalogue == Catalogue::kLemur && family == "BayesianNet-1") return 38;
  return 0;
}

int MinimumImageSize(Catalogue catalogue, std::string_view family) {
  const auto& table = LemurMinimums();
  const auto it = table.find(family);
  if (it == table.end()) return 0;
  return catalogue == Catalogue::kAdapted ? kAdaptedMinimum : it->second;
}

}  // namespace moe4
