// Lists the image files of a dataset directory in one of two layouts, with
// their classes, without reading any pixels:
//
//   folder        train/<class>/**/*.{jpg,jpeg,png}, test/<class>/..., and
//                 optionally val/<class>/... (torchvision's ImageFolder
//                 layout); classes are the sorted directory names of train/.
//   tinyimagenet  TinyImageNet-200 as distributed: wnids.txt (the classes),
//                 train/<wnid>/images/*.JPEG, and val/images/*.JPEG labelled
//                 by val/val_annotations.txt, which becomes the test split
//                 (the release's test/ has no labels).
//
// Entries that cannot be an image of the dataset are listed as bad with the
// reason (a symlink loop, a link leading outside --data-root, a file that is
// not .jpg/.jpeg/.png, a class in test/ or val/ that train/ lacks), so the
// caller can fail or skip them; structural problems (no train/ or test/, a
// training class without images) are errors. Names starting with '.' are
// ignored, as are plain files directly under train/, test/ and val/.
// No LibTorch. Stateless functions; safe from any thread.
#ifndef MOE4_WORKER_DATA_IMAGE_LISTING_H_
#define MOE4_WORKER_DATA_IMAGE_LISTING_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace moe4::worker {

enum class ImageSplit { kTrain = 0, kValidation = 1, kTest = 2 };
inline constexpr int kImageSplits = 3;

// "train", "val", "test".
const char* ImageSplitName(ImageSplit split);

enum class ImageLayout { kFolder, kTinyImageNet };

// "folder", "tinyimagenet".
const char* ImageLayoutName(ImageLayout layout);

struct ImageFile {
  std::string relative;  // path relative to the dataset directory (messages, cache key)
  int label = 0;         // index into ImageListing::classes
  uint64_t bytes = 0;    // file size
  int64_t mtime_ns = 0;  // last modification, nanoseconds since the epoch
};

// An entry that is not a usable image, with why; `class_name` is the class
// directory it was found under (the class it would have counted for).
struct BadImage {
  ImageSplit split = ImageSplit::kTrain;
  std::string class_name;
  std::string relative;
  std::string reason;
};

struct ImageListing {
  ImageLayout layout = ImageLayout::kFolder;
  std::string dir;                   // the dataset directory, canonical
  std::vector<std::string> classes;  // label -> name, sorted
  // Per split (ImageSplit order), sorted by (label, relative path).
  std::array<std::vector<ImageFile>, kImageSplits> files;
  bool has_validation = false;       // folder with a val/ directory
  std::vector<BadImage> bad;         // in listing order
};

struct ListingOptions {
  // The worker's --data-root ("" = kDefaultDataRoot): symlinks inside the
  // dataset must resolve inside it.
  std::string data_root;
  // More entries than this in one dataset is an error (bounded memory).
  int64_t max_entries = 20'000'000;
  // Classes above this are an error.
  int max_classes = 100'000;
};

// `dir` is the dataset directory, already resolved inside the data root
// (ResolveDatasetDir). FailedPrecondition naming the directory for a layout
// problem.
absl::StatusOr<ImageListing> ListImageDataset(ImageLayout layout, const std::string& dir,
                                              const ListingOptions& options);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_IMAGE_LISTING_H_
