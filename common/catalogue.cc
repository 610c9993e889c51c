#include "common/catalogue.h"

#include <algorithm>
#include <cctype>

namespace moe4 {

const std::vector<std::string>& FamilyCatalogue() {
  // shared/FAMILIES.md, byte order (DPN107 < DarkNet, MNASNet < MaxVit).
  static const std::vector<std::string> kFamilies = {
      "AirNet",        "AirNext",         "AlexNet",      "BagNet",        "BayesianNet-1",
      "ConvNeXt",      "DPN107",          "DPN131",       "DPN68",         "DarkNet",
      "DenseNet",      "Diffuser",        "EfficientNet", "FractalNet",    "GoogLeNet",
      "ICNet",         "InceptionV3-1",   "MNASNet",      "MaxVit",        "MobileNetV2",
      "MobileNetV3",   "RegNet",          "ResNet",       "ShuffleNet",    "SqueezeNet-1",
      "SwinTransformer", "UNet2D",        "VGG",          "VisionTransformer",
  };
  return kFamilies;
}

bool IsKnownFamily(std::string_view id) {
  const auto& all = FamilyCatalogue();
  return std::binary_search(all.begin(), all.end(), id,
                            [](const auto& a, const auto& b) { return std::string_view(a) < std::string_view(b); });
}

namespace {

int CaseInsensitiveEditDistance(std::string_view a, std::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int above = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.size() > 200) return "";
  int best_distance = static_cast<int>(word.size() / 3) + 2;
  std::string best;
  for (const auto& candidate : candidates) {
    const int d = CaseInsensitiveEditDistance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string SuggestFamily(std::string_view id) { return ClosestMatch(id, FamilyCatalogue()); }

}  // namespace moe4
