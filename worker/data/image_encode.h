// Encodes 8-bit interleaved pixels as JPEG (libjpeg-turbo) or PNG (libpng):
// what moe4-make-images writes, and how tests build image folders (hostile
// ones too) at test time. No LibTorch. Stateless; safe from any thread.
#ifndef MOE4_WORKER_DATA_IMAGE_ENCODE_H_
#define MOE4_WORKER_DATA_IMAGE_ENCODE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace moe4::worker {

// channels 1 (gray), 3 (RGB) or 4 (CMYK: an Adobe-style CMYK JPEG);
// quality 1..100.
absl::StatusOr<std::vector<uint8_t>> EncodeJpeg(const uint8_t* pixels, int width, int height, int channels,
                                                int quality = 90);

// channels 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
absl::StatusOr<std::vector<uint8_t>> EncodePng(const uint8_t* pixels, int width, int height, int channels);

// A palette PNG: `indices` (width * height bytes) into `palette` (RGB
// triples, 1..256 of them).
absl::StatusOr<std::vector<uint8_t>> EncodePalettePng(const uint8_t* indices, int width, int height,
                                                      const std::vector<uint8_t>& palette);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_IMAGE_ENCODE_H_
