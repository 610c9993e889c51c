// image_load_bench: how fast the worker turns a folder of JPEG/PNG files into
// uint8 tensors' worth of pixels: the first load (list, decode on --threads,
// resize, write the cache) and a cached load (map the cache and read every
// pixel once, as training would). Prints one JSON object on stdout (logs
// on stderr).
//
//   image_load_bench --dir DATA/ds --data-root DATA --threads N [--resize S]
//                    [--layout folder|tinyimagenet] [--repeats 3]
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "worker/data/image_set.h"

int main(int argc, char** argv) {
  using namespace moe4::worker;
  CLI::App app{"image_load_bench: first and cached load of an image folder, images/s"};
  std::string dir, data_root, layout = "folder";
  int threads = 1, resize = 0, repeats = 3;
  app.add_option("--dir", dir, "the dataset directory")->required();
  app.add_option("--data-root", data_root, "the data root it lies in")->required();
  app.add_option("--layout", layout, "folder | tinyimagenet")->check(CLI::IsMember({"folder", "tinyimagenet"}));
  app.add_option("--threads", threads, "decoding threads")->check(CLI::Range(1, 1024));
  app.add_option("--resize", resize, "side to resize to (0 = native)")->check(CLI::Range(0, 1024));
  app.add_option("--repeats", repeats, "cached loads to time (the best counts)")->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  // stdout carries the one JSON object; the loader's progress lines go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("image_load_bench"));

  const auto cache = std::filesystem::temp_directory_path() / ("moe4-image-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(cache);
  ImageSetOptions options;
  options.data_root = data_root;
  options.cache_dir = cache.string();
  options.resize = resize;
  options.threads = threads;
  const ImageLayout kind = layout == "tinyimagenet" ? ImageLayout::kTinyImageNet : ImageLayout::kFolder;
  using Clock = std::chrono::steady_clock;

  auto start = Clock::now();
  auto first = LoadImageSet(kind, dir, options);
  const double first_s = std::chrono::duration<double>(Clock::now() - start).count();
  if (!first.ok()) {
    std::cerr << first.status() << "\n";
    return 1;
  }
  const int64_t images = first->parts[0].count + first->parts[1].count + first->parts[2].count;
  const size_t bytes = static_cast<size_t>(images) * first->channels * first->height * first->width;
  first = absl::InternalError("released");

  double cached_s = 1e30;
  uint64_t checksum = 0;
  for (int r = 0; r < repeats; ++r) {
    start = Clock::now();
    auto cached = LoadImageSet(kind, dir, options);
    if (!cached.ok() || !cached->from_cache) {
      std::cerr << "cached load failed: " << (cached.ok() ? "not from the cache" : cached.status().ToString()) << "\n";
      return 1;
    }
    // Touch every pixel: a mapping costs its page faults when it is read.
    uint64_t sum = 0;
    for (const auto& part : cached->parts) {
      const size_t n = static_cast<size_t>(part.count) * cached->channels * cached->height * cached->width;
      for (size_t i = 0; i < n; i += 64) sum += part.images[i];
    }
    checksum = sum;
    cached_s = std::min(cached_s, std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::filesystem::remove_all(cache);
  std::cout << nlohmann::json{{"images", images},
                              {"threads", threads},
                              {"resize", resize},
                              {"bytes", bytes},
                              {"first_load_s", first_s},
                              {"first_load_images_per_s", images / first_s},
                              {"cached_load_s", cached_s},
                              {"cached_load_images_per_s", images / cached_s},
                              {"checksum", checksum}}
                   .dump()
            << std::endl;
  return 0;
}
