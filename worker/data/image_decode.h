// Decodes one JPEG (libjpeg-turbo) or PNG (libpng) file held in memory to
// 8-bit gray or RGB pixels, refusing what a dataset must not feed a worker:
// corrupt or truncated data, CMYK JPEGs, images over a pixel limit (a PNG
// bomb is a small file whose header claims a huge canvas; the limit is
// checked on the header, before any pixel memory is allocated). No LibTorch:
// plain uint8 buffers. Stateless functions; safe from any thread.
#ifndef MOE4_WORKER_DATA_IMAGE_DECODE_H_
#define MOE4_WORKER_DATA_IMAGE_DECODE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace moe4::worker {

// The default of the worker's --max-image-pixels (40 megapixels: a 120 MB
// RGB buffer per decoding thread at most).
inline constexpr int64_t kDefaultMaxImagePixels = 40'000'000;

// Files larger than this are refused before they are read (a dataset image
// of 64 MiB is an accident or an attack).
inline constexpr int64_t kMaxImageFileBytes = 64LL << 20;

// A decoded image: rows of width * channels bytes, interleaved (RGBRGB...).
struct DecodedImage {
  int width = 0;
  int height = 0;
  int channels = 0;  // 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;
};

struct DecodeOptions {
  // Images whose header claims more than this many pixels (width * height)
  // are refused. Default kDefaultMaxImagePixels.
  int64_t max_pixels = kDefaultMaxImagePixels;
  // When > 0, the side the image will be resized to: a large JPEG is then
  // decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling) as long as both
  // sides stay at least this long, which is several times faster. 0 = full size.
  int target_side = 0;
};

// Decodes by content (the magic bytes), not by file name. Gray and
// gray+alpha PNGs decode to 1 channel; RGB, RGBA and palette PNGs to 3;
// alpha is composited onto black; 16-bit samples are reduced to 8. YCbCr
// and gray JPEGs decode to 3 and 1 channels. Warnings count as errors (a
// truncated JPEG is only a warning to libjpeg, which fills the rest grey). Errors (InvalidArgument) say
// what is wrong without the file name, which the caller adds.
absl::Status DecodeImage(const uint8_t* data, size_t size, const DecodeOptions& options, DecodedImage* out);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_IMAGE_DECODE_H_
