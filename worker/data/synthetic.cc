#include "worker/data/synthetic.h"

#include <cmath>
#include <sstream>

#include "absl/status/status.h"

namespace moe4::worker {

absl::StatusOr<SyntheticOptions> ParseSyntheticName(const std::string& name) {
  SyntheticOptions options;
  const std::string prefix = "synthetic";
  if (name.rfind(prefix, 0) != 0) {
    return absl::InvalidArgumentError("dataset.name: '" + name + "' is not a synthetic dataset");
  }
  std::string rest = name.substr(prefix.size());
  if (rest.empty()) return options;
  if (rest[0] != ':') {
    return absl::InvalidArgumentError("dataset.name: expected 'synthetic' or 'synthetic:key=value,...', got '" + name +
                                      "'");
  }
  std::stringstream items(rest.substr(1));
  std::string item;
  while (std::getline(items, item, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError("dataset.name: '" + item + "' is not key=value");
    }
    const std::string key = item.substr(0, eq);
    double value = 0;
    try {
      value = std::stod(item.substr(eq + 1));
    } catch (const std::exception&) {
      return absl::InvalidArgumentError("dataset.name: " + key + " is not a number");
    }
    if (key == "channels") {
      options.channels = static_cast<int>(value);
    } else if (key == "size") {
      options.size = static_cast<int>(value);
    } else if (key == "classes") {
      options.classes = static_cast<int>(value);
    } else if (key == "noise") {
      options.noise = value;
    } else {
      return absl::InvalidArgumentError("dataset.name: unknown synthetic key '" + key +
                                        "' (channels, size, classes, noise)");
    }
  }
  if (options.channels < 1 || options.channels > 4) {
    return absl::InvalidArgumentError("dataset.name: channels must be in [1, 4]");
  }
  if (options.size < 8 || options.size > 256) {
    return absl::InvalidArgumentError("dataset.name: size must be in [8, 256]");
  }
  if (options.classes < 2 || options.classes > 216) {
    return absl::InvalidArgumentError("dataset.name: classes must be in [2, 216]");
  }
  if (!(options.noise >= 0 && options.noise <= 1)) {
    return absl::InvalidArgumentError("dataset.name: noise must be in [0, 1]");
  }
  return options;
}

Dataset MakeSynthetic(const SyntheticOptions& options, int64_t count, uint64_t seed, const std::string& name) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat);
  const int s = options.size;
  const double pi = M_PI;

  // Balanced labels in a random order.
  auto labels = torch::arange(count, torch::kLong).remainder(options.classes);
  labels = labels.index_select(0, torch::randperm(count, gen, torch::kLong));

  // Class attributes: orientation (6), frequency (4), blob position (9).
  auto orient = labels.remainder(6).to(torch::kFloat);
  auto freq_index = labels.div(6, "floor").remainder(4).to(torch::kFloat);
  auto blob = labels.div(24, "floor");                                                  // 0 = no blob
  auto theta = orient * (pi / 6) + (torch::rand({count}, gen, f32) - 0.5) * (pi / 36);  // +-2.5 deg
  auto freq = 1.5 + 1.5 * freq_index;                                                   // cycles per image
  auto phase = torch::rand({count}, gen, f32) * (2 * pi);
  auto contrast = 0.5 + 0.5 * torch::rand({count}, gen, f32);

  auto coords = torch::arange(s, f32) / s;  // [S]
  auto y = coords.view({1, s, 1});
  auto x = coords.view({1, 1, s});
  auto c = torch::cos(theta).view({count, 1, 1});
  auto sn = torch::sin(theta).view({count, 1, 1});
  auto arg = 2 * pi * freq.view({count, 1, 1}) * (x * c + y * sn) + phase.view({count, 1, 1});
  auto image = 0.5 + 0.4 * contrast.view({count, 1, 1}) * torch::sin(arg);  // [N,S,S]

  // Blob k (1..8) sits on a 3x3 grid without the centre.
  auto cell = (blob - 1).clamp_min(0);
  auto cell_pos = torch::where(cell >= 4, cell + 1, cell).to(torch::kFloat);
  auto cx = (cell_pos.remainder(3) * 0.3 + 0.2).view({count, 1, 1});
  auto cy = (cell_pos.div(3, "floor") * 0.3 + 0.2).view({count, 1, 1});
  auto bump = torch::exp(-((x - cx).pow(2) + (y - cy).pow(2)) / (2 * 0.08 * 0.08));
  image = image + 0.5 * bump * (blob > 0).to(torch::kFloat).view({count, 1, 1});

  auto gain = 0.7 + 0.3 * torch::rand({count, options.channels, 1, 1}, gen, f32);
  auto pixels = image.unsqueeze(1) * gain;
  pixels = pixels + options.noise * torch::randn({count, options.channels, s, s}, gen, f32);
  Dataset d;
  d.name = name;
  d.images = (pixels.clamp(0, 1) * 255).round().to(torch::kUInt8).contiguous();
  d.labels = labels.contiguous();
  d.num_classes = options.classes;
  return d;
}

DatasetPair MakeSyntheticPair(const SyntheticOptions& options) {
  DatasetPair pair;
  pair.train = MakeSynthetic(options, options.train, options.seed, "synthetic/train");
  pair.test = MakeSynthetic(options, options.test, options.seed ^ 0x9e3779b97f4a7c15ULL, "synthetic/test");
  return pair;
}

}  // namespace moe4::worker
