// A decoded image dataset (folder or TinyImageNet layout) as plain uint8
// buffers: images [N, C, H, W] per split with int32 labels, decoded on all
// cores from JPEG/PNG files, resized, and cached in one memory-mapped file so
// that the next job on the machine starts without decoding. No LibTorch
// (worker/data/folder_dataset.h turns an ImageSet into tensors).
//
// Channels: 1 when every image of every split is gray (gray or gray+alpha
// PNG, gray JPEG), else 3, with gray images repeated into R, G and B; alpha
// is composited onto black; palette PNGs are RGB.
//
// An ImageSet is immutable once loaded; share it between threads freely.
#ifndef MOE4_WORKER_DATA_IMAGE_SET_H_
#define MOE4_WORKER_DATA_IMAGE_SET_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/data/image_listing.h"

namespace moe4::worker {

struct ImageSetPart {
  const uint8_t* images = nullptr;  // count * channels * height * width bytes, planar per image
  const int32_t* labels = nullptr;  // count labels in [0, classes)
  int64_t count = 0;
};

struct ImageSet {
  ImageLayout layout = ImageLayout::kFolder;
  std::string dir;                   // the dataset directory, canonical
  std::vector<std::string> classes;  // label -> name
  int channels = 0;
  int height = 0;
  int width = 0;
  std::array<ImageSetPart, kImageSplits> parts;  // ImageSplit order
  bool has_validation = false;        // parts[kValidation] came from val/
  std::vector<BadImage> skipped;      // with skip_bad_images: what was left out, and why
  std::shared_ptr<const void> storage;  // owns the memory `parts` point into
  bool from_cache = false;
  std::string cache_path;             // the cache file read or written; "" when none
};

struct ImageSetOptions {
  // The worker's --data-root ("" = kDefaultDataRoot); symlinks inside the
  // dataset must stay in it.
  std::string data_root;
  // Where cache files go: "" = <dataset directory>/.moe4-cache; "none" =
  // never read or write a cache. An unwritable directory only costs the
  // cache (a warning), never the job.
  std::string cache_dir;
  // The side images are resized to (stretched to a square); 0 = keep the
  // native size, which every image must then share.
  int resize = 0;
  // Images whose header claims more pixels are bad. Default 40 megapixels.
  int64_t max_image_pixels = 40'000'000;
  // false: the first bad file fails the load, naming it; true: bad files
  // are left out and listed in ImageSet::skipped.
  bool skip_bad_images = false;
  // Decoding threads; 0 = every core (std::thread::hardware_concurrency).
  int threads = 0;
};

// Lists, decodes (or maps the cache), and checks that every training class
// kept an image and that test/ (and val/ when present) kept some.
// FailedPrecondition naming the file for a bad file without
// skip_bad_images, or for a layout problem.
absl::StatusOr<ImageSet> LoadImageSet(ImageLayout layout, const std::string& dir, const ImageSetOptions& options);

// "3 bad files skipped: train/cat 2, test/dog 1 (first: train/cat/a.jpg:
// corrupt or truncated JPEG ...)"; "" when none were.
std::string DescribeSkipped(const std::vector<BadImage>& skipped);

// The same per split and class: {"train/cat": 2, "test/dog": 1}, the keys of
// moe4-train's skipped_images and of EpochMetrics.skipped_images (a file
// without a label counts for "(unlabelled)"). Class names are directory
// names, any bytes: they are made printable UTF-8 (other bytes become '?')
// and cut to kMaxSkippedClassBytes, so that JSON, protobuf (whose parser
// refuses invalid UTF-8) and the coordinator's checks take every key; names
// that become equal are counted together.
inline constexpr size_t kMaxSkippedClassBytes = 200;
std::map<std::string, int64_t> SkippedCounts(const std::vector<BadImage>& skipped);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_IMAGE_SET_H_
