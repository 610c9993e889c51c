// Helpers for the image-folder tests (no LibTorch): a scratch data root that
// removes itself, and generated JPEG/PNG files, good and hostile, written at
// test time (no image data is committed).
#ifndef MOE4_TESTS_WORKER_IMAGE_IMAGE_TEST_UTIL_H_
#define MOE4_TESTS_WORKER_IMAGE_IMAGE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "worker/data/image_encode.h"

namespace moe4::worker::testing {

namespace fs = std::filesystem;

class ScratchRoot {
 public:
  ScratchRoot() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("moe4-image-test-" + std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1)));
    fs::create_directories(path_);
  }
  ~ScratchRoot() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  fs::path path() const { return path_; }

 private:
  fs::path path_;
};

// A width x height image, `channels` interleaved, each pixel a function of
// its position and `seed` (distinct images stay distinct).
inline std::vector<uint8_t> Pixels(int width, int height, int channels, int seed) {
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * channels);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 7 + seed * 31) % 251);
  return pixels;
}

inline void WriteBytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::vector<uint8_t> Jpeg(int width, int height, int channels, int seed = 0) {
  auto bytes = EncodeJpeg(Pixels(width, height, channels, seed).data(), width, height, channels, 95);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::vector<uint8_t>{};
}

inline std::vector<uint8_t> Png(int width, int height, int channels, int seed = 0) {
  auto bytes = EncodePng(Pixels(width, height, channels, seed).data(), width, height, channels);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::vector<uint8_t>{};
}

// A PNG whose header claims width x height but whose data is a few bytes:
// a decompression bomb as far as any reader that trusts the header goes.
inline std::vector<uint8_t> PngBomb(uint32_t width, uint32_t height) {
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  auto chunk = [&out](const char* type, const std::vector<uint8_t>& data) {
    const uint32_t n = static_cast<uint32_t>(data.size());
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(n >> s));
    std::vector<uint8_t> body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    out.insert(out.end(), body.begin(), body.end());
    const uint32_t crc = static_cast<uint32_t>(crc32(0, body.data(), static_cast<uInt>(body.size())));
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(crc >> s));
  };
  std::vector<uint8_t> ihdr;
  for (uint32_t v : {width, height}) {
    for (int s = 24; s >= 0; s -= 8) ihdr.push_back(static_cast<uint8_t>(v >> s));
  }
  ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});  // 8-bit gray, deflate, no filter, no interlace
  chunk("IHDR", ihdr);
  const std::vector<uint8_t> zeros(64, 0);
  std::vector<uint8_t> idat(compressBound(zeros.size()));
  uLongf idat_size = idat.size();
  compress(idat.data(), &idat_size, zeros.data(), zeros.size());
  idat.resize(idat_size);
  chunk("IDAT", idat);
  chunk("IEND", {});
  return out;
}

}  // namespace moe4::worker::testing

#endif  // MOE4_TESTS_WORKER_IMAGE_IMAGE_TEST_UTIL_H_
