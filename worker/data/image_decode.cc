#include "worker/data/image_decode.h"

// jpeglib.h needs size_t and FILE declared first.
#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on
#include <png.h>

#include <csetjmp>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace moe4::worker {
namespace {

absl::Status TooManyPixels(int64_t width, int64_t height, int64_t max_pixels) {
  return absl::InvalidArgumentError(absl::StrCat(width, "x", height, " = ", width * height,
                                                 " pixels, over the limit of ", max_pixels,
                                                 " (--max-image-pixels)"));
}

// libjpeg reports errors through a callback that must not return: it
// longjmps back to DecodeJpeg. Only C frames and this trivially destructible
// struct lie between setjmp and longjmp.
struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void JpegErrorExit(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, error->message);
  std::longjmp(error->jump, 1);
}

// Warnings (level -1) are corrupt data libjpeg would paper over: a truncated
// file decodes with its missing rows grey. Treat them as errors; trace
// messages (level >= 0) are ignored.
void JpegEmitMessage(j_common_ptr cinfo, int level) {
  if (level < 0) JpegErrorExit(cinfo);
}

void JpegOutputMessage(j_common_ptr) {}  // never print to stderr

// The largest DCT scale 1/d (d in 8, 4, 2) that keeps both sides >= target.
int JpegScaleDenominator(int width, int height, int target) {
  if (target <= 0) return 1;
  for (int d : {8, 4, 2}) {
    if ((width + d - 1) / d >= target && (height + d - 1) / d >= target) return d;
  }
  return 1;
}

absl::Status DecodeJpeg(const uint8_t* data, size_t size, const DecodeOptions& options, DecodedImage* out) {
  jpeg_decompress_struct cinfo;
  JpegError error;
  std::memset(&cinfo, 0, sizeof(cinfo));
  cinfo.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = JpegErrorExit;
  error.manager.emit_message = JpegEmitMessage;
  error.manager.output_message = JpegOutputMessage;
  error.message[0] = '\0';
  // What the longjmp path reports when the header was fine but the data not.
  // volatile: written between setjmp and a longjmp, read after it.
  volatile int refusal = 0;  // 1 = CMYK, 2 = too many pixels
  if (setjmp(error.jump) != 0) {
    jpeg_destroy_decompress(&cinfo);
    return absl::InvalidArgumentError(absl::StrCat("corrupt or truncated JPEG (libjpeg: ", error.message, ")"));
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  const int64_t width = cinfo.image_width;
  const int64_t height = cinfo.image_height;
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    refusal = 1;
  } else if (width * height > options.max_pixels) {
    refusal = 2;
  }
  if (refusal != 0) {
    jpeg_destroy_decompress(&cinfo);
    if (refusal == 1) {
      return absl::InvalidArgumentError(
          "CMYK JPEG: its colours cannot be converted to RGB without its ICC profile (convert it to RGB)");
    }
    return TooManyPixels(width, height, options.max_pixels);
  }
  const bool gray = cinfo.jpeg_color_space == JCS_GRAYSCALE;
  cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
  cinfo.scale_num = 1;
  cinfo.scale_denom = JpegScaleDenominator(static_cast<int>(width), static_cast<int>(height), options.target_side);
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&cinfo);
  out->width = static_cast<int>(cinfo.output_width);
  out->height = static_cast<int>(cinfo.output_height);
  out->channels = cinfo.output_components;
  const size_t stride = static_cast<size_t>(out->width) * out->channels;
  out->pixels.resize(stride * out->height);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->pixels.data() + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return absl::OkStatus();
}

absl::Status DecodePng(const uint8_t* data, size_t size, const DecodeOptions& options, DecodedImage* out) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, data, size)) {
    const std::string message = image.message;
    png_image_free(&image);
    return absl::InvalidArgumentError(absl::StrCat("corrupt PNG (libpng: ", message, ")"));
  }
  const int64_t width = image.width;
  const int64_t height = image.height;
  if (width * height > options.max_pixels) {
    png_image_free(&image);
    return TooManyPixels(width, height, options.max_pixels);
  }
  const bool colour = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  image.format = colour ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  out->width = static_cast<int>(width);
  out->height = static_cast<int>(height);
  out->channels = colour ? 3 : 1;
  out->pixels.assign(PNG_IMAGE_SIZE(image), 0);
  const png_color black{0, 0, 0};
  // The simplified API records a warning (e.g. a bad CRC in an ancillary
  // chunk) in image.warning_or_error and goes on; an error returns 0.
  if (!png_image_finish_read(&image, &black, out->pixels.data(), 0, nullptr) ||
      (image.warning_or_error & PNG_IMAGE_ERROR) != 0) {
    const std::string message = image.message;
    png_image_free(&image);
    return absl::InvalidArgumentError(absl::StrCat("corrupt or truncated PNG (libpng: ", message, ")"));
  }
  png_image_free(&image);
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeImage(const uint8_t* data, size_t size, const DecodeOptions& options, DecodedImage* out) {
  static constexpr uint8_t kJpeg[] = {0xFF, 0xD8, 0xFF};
  static constexpr uint8_t kPng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= sizeof(kJpeg) && std::memcmp(data, kJpeg, sizeof(kJpeg)) == 0) {
    return DecodeJpeg(data, size, options, out);
  }
  if (size >= sizeof(kPng) && std::memcmp(data, kPng, sizeof(kPng)) == 0) {
    return DecodePng(data, size, options, out);
  }
  if (size == 0) return absl::InvalidArgumentError("empty file, not an image");
  return absl::InvalidArgumentError("not a JPEG or PNG image (unrecognised first bytes)");
}

}  // namespace moe4::worker
