// moe4-make-images: writes a small, learnable image dataset as JPEG/PNG
// files, in the folder layout (train/<class>/, test/<class>/, optionally
// val/<class>/) or TinyImageNet-200's (wnids.txt, train/<wnid>/images/,
// val/images/ + val_annotations.txt). Each class is a coloured, oriented
// stripe pattern with random phase and noise. For trying folder datasets
// (docs/spec.md) and for the end-to-end tests; not needed to train.
//
//   moe4-make-images --out DIR [--layout folder|tinyimagenet] [--classes 4]
//                    [--train 40] [--val 0] [--test 10] [--size 32]
//                    [--format jpg|png|mixed] [--seed 1]
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "worker/data/image_encode.h"

namespace {

namespace fs = std::filesystem;

struct Options {
  std::string out;
  std::string layout = "folder";
  int classes = 4;
  int train = 40;
  int val = 0;
  int test = 10;
  int size = 32;
  std::string format = "jpg";
  unsigned seed = 1;
};

// Class c: stripes at angle pi * c / classes, two frequencies alternating,
// tinted with the class's hue; random phase, contrast and pixel noise.
std::vector<uint8_t> Pattern(int c, const Options& options, std::mt19937& rng) {
  const int s = options.size;
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 12.0);
  const double angle = M_PI * c / options.classes;
  const double frequency = (c % 2 == 0 ? 3.0 : 5.0) * 2 * M_PI / s;
  const double phase = uniform(rng) * 2 * M_PI;
  const double contrast = 0.6 + 0.4 * uniform(rng);
  const double hue = 2 * M_PI * c / options.classes;
  const double tint[3] = {0.6 + 0.4 * std::cos(hue), 0.6 + 0.4 * std::cos(hue - 2.1), 0.6 + 0.4 * std::cos(hue + 2.1)};
  std::vector<uint8_t> pixels(static_cast<size_t>(s) * s * 3);
  for (int y = 0; y < s; ++y) {
    for (int x = 0; x < s; ++x) {
      const double t = (x * std::cos(angle) + y * std::sin(angle)) * frequency + phase;
      const double v = 0.5 + 0.5 * contrast * std::sin(t);
      for (int k = 0; k < 3; ++k) {
        const double value = 255.0 * v * tint[k] + noise(rng);
        pixels[(static_cast<size_t>(y) * s + x) * 3 + k] = static_cast<uint8_t>(std::clamp(value, 0.0, 255.0));
      }
    }
  }
  return pixels;
}

bool Write(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

// Encodes image `index` as JPEG or PNG by --format; returns the extension.
bool WriteImage(const fs::path& stem, int index, const std::vector<uint8_t>& pixels, const Options& options,
                bool tinyimagenet) {
  const bool png = options.format == "png" || (options.format == "mixed" && index % 2 == 1);
  auto bytes = png ? moe4::worker::EncodePng(pixels.data(), options.size, options.size, 3)
                   : moe4::worker::EncodeJpeg(pixels.data(), options.size, options.size, 3, 90);
  if (!bytes.ok()) {
    std::cerr << stem.string() << ": " << bytes.status().message() << "\n";
    return false;
  }
  const std::string extension = png ? ".png" : (tinyimagenet ? ".JPEG" : ".jpg");
  return Write(stem.string() + extension, *bytes);
}

std::string ClassName(int c, const Options& options) {
  if (options.layout == "tinyimagenet") {
    char wnid[16];
    std::snprintf(wnid, sizeof(wnid), "n%08d", 1000 + c);
    return wnid;
  }
  return "class" + std::to_string(c);
}

int MakeFolder(const Options& options, std::mt19937& rng) {
  const fs::path out(options.out);
  for (const auto& [split, count] : {std::pair<std::string, int>{"train", options.train}, {"val", options.val},
                                     {"test", options.test}}) {
    for (int c = 0; c < options.classes && count > 0; ++c) {
      for (int i = 0; i < count; ++i) {
        if (!WriteImage(out / split / ClassName(c, options) / ("img" + std::to_string(i)), i, Pattern(c, options, rng),
                        options, false)) {
          return 1;
        }
      }
    }
  }
  return 0;
}

int MakeTinyImageNet(const Options& options, std::mt19937& rng) {
  const fs::path out(options.out);
  std::ofstream wnids_file;
  fs::create_directories(out);
  wnids_file.open(out / "wnids.txt");
  for (int c = 0; c < options.classes; ++c) {
    const std::string wnid = ClassName(c, options);
    wnids_file << wnid << "\n";
    std::ofstream boxes;
    fs::create_directories(out / "train" / wnid / "images");
    boxes.open(out / "train" / wnid / (wnid + "_boxes.txt"));
    for (int i = 0; i < options.train; ++i) {
      const std::string name = wnid + "_" + std::to_string(i);
      if (!WriteImage(out / "train" / wnid / "images" / name, i, Pattern(c, options, rng), options, true)) return 1;
      boxes << name << ".JPEG\t0\t0\t" << options.size - 1 << "\t" << options.size - 1 << "\n";
    }
  }
  // TinyImageNet's val/ is labelled by val_annotations.txt; test/ is not
  // labelled at all (and moe4 ignores it).
  fs::create_directories(out / "val" / "images");
  std::ofstream annotations(out / "val" / "val_annotations.txt");
  int n = 0;
  for (int i = 0; i < options.test; ++i) {
    for (int c = 0; c < options.classes; ++c, ++n) {
      const std::string name = "val_" + std::to_string(n);
      if (!WriteImage(out / "val" / "images" / name, i, Pattern(c, options, rng), options, true)) return 1;
      annotations << name << (options.format == "png" || (options.format == "mixed" && i % 2 == 1) ? ".png" : ".JPEG")
                  << "\t" << ClassName(c, options) << "\t0\t0\t" << options.size - 1 << "\t" << options.size - 1
                  << "\n";
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (!WriteImage(out / "test" / "images" / ("test_" + std::to_string(i)), i, Pattern(0, options, rng), options,
                    true)) {
      return 1;
    }
  }
  return wnids_file && annotations ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"moe4-make-images: write a small learnable JPEG/PNG dataset (folder or TinyImageNet layout)"};
  Options options;
  app.add_option("--out", options.out, "directory to create")->required();
  app.add_option("--layout", options.layout, "folder | tinyimagenet")
      ->check(CLI::IsMember({"folder", "tinyimagenet"}))
      ->capture_default_str();
  app.add_option("--classes", options.classes, "classes")->check(CLI::Range(2, 1000))->capture_default_str();
  app.add_option("--train", options.train, "training images per class")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--val", options.val, "val/ images per class (folder only; 0 = no val/)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--test", options.test, "test images per class")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--size", options.size, "image side in pixels")->check(CLI::Range(8, 1024))->capture_default_str();
  app.add_option("--format", options.format, "jpg | png | mixed")
      ->check(CLI::IsMember({"jpg", "png", "mixed"}))
      ->capture_default_str();
  app.add_option("--seed", options.seed, "random seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::mt19937 rng(options.seed);
  const int rc = options.layout == "tinyimagenet" ? MakeTinyImageNet(options, rng) : MakeFolder(options, rng);
  if (rc == 0) std::cout << "wrote a " << options.layout << " dataset of " << options.classes << " classes to "
                         << options.out << "\n";
  return rc;
}
