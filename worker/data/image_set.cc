#include "worker/data/image_set.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/data/image_cache.h"
#include "worker/data/image_decode.h"
#include "worker/data/image_resize.h"

namespace moe4::worker {
namespace {

namespace fs = std::filesystem;

// The pixels of a freshly decoded set (a cached one lives in its mapping).
struct Buffers {
  std::vector<uint8_t> images;
  std::vector<int32_t> labels;
};

// One image to decode: where it sits in the listing.
struct Item {
  ImageSplit split;
  const ImageFile* file;
};

absl::Status ReadFile(const std::string& path, std::vector<uint8_t>* bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InvalidArgumentError(absl::StrCat("cannot open (", std::strerror(errno), ")"));
  bytes->clear();
  uint8_t chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return absl::InvalidArgumentError(absl::StrCat("read failed (", std::strerror(error), ")"));
    }
    if (n == 0) break;
    if (bytes->size() + static_cast<size_t>(n) > static_cast<size_t>(kMaxImageFileBytes)) {
      ::close(fd);
      return absl::InvalidArgumentError(absl::StrCat("larger than ", kMaxImageFileBytes, " bytes"));
    }
    bytes->insert(bytes->end(), chunk, chunk + n);
  }
  ::close(fd);
  return absl::OkStatus();
}

// What every decoding thread shares. Slots are written by one thread each.
struct DecodeJob {
  const ImageListing* listing = nullptr;
  const std::vector<Item>* items = nullptr;
  DecodeOptions decode;
  int height = 0;  // the size every image ends up at
  int width = 0;
  bool resize = false;  // false: images must already be height x width
  std::string reference;  // native size: the file that set it
  uint8_t* slots = nullptr;  // items.size() slots of 3 * height * width
  std::vector<uint8_t>* gray = nullptr;
  std::vector<std::string>* errors = nullptr;
  bool stop_at_first_error = true;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::atomic<bool> stop{false};
  // Wakes the progress loop when the last image is done or decoding stops.
  std::mutex mu;
  std::condition_variable finished;

  void Wake() {
    { std::lock_guard<std::mutex> lock(mu); }  // no wake-up lost between its check and its wait
    finished.notify_all();
  }
};

std::string DecodeOne(DecodeJob& job, size_t index, std::vector<uint8_t>& bytes, DecodedImage& image,
                      std::vector<uint8_t>& resized) {
  const ImageFile& file = *(*job.items)[index].file;
  const std::string path = (fs::path(job.listing->dir) / file.relative).string();
  if (auto s = ReadFile(path, &bytes); !s.ok()) return std::string(s.message());
  if (auto s = DecodeImage(bytes.data(), bytes.size(), job.decode, &image); !s.ok()) return std::string(s.message());
  const uint8_t* pixels = image.pixels.data();
  if (job.resize) {
    ResizeImage(pixels, image.width, image.height, image.channels, job.width, job.height, &resized);
    pixels = resized.data();
  } else if (image.width != job.width || image.height != job.height) {
    return absl::StrCat("is ", image.width, "x", image.height, ", but the dataset's images are ", job.width, "x",
                        job.height, " (like ", job.reference, "); set dataset.resize to train on mixed sizes");
  }
  const size_t plane = static_cast<size_t>(job.height) * job.width;
  uint8_t* slot = job.slots + index * 3 * plane;
  const int channels = image.channels;
  for (int c = 0; c < channels; ++c) {
    uint8_t* out = slot + c * plane;
    for (size_t p = 0; p < plane; ++p) out[p] = pixels[p * channels + c];
  }
  (*job.gray)[index] = channels == 1 ? 1 : 0;
  return "";
}

void DecodeWorker(DecodeJob& job) {
  std::vector<uint8_t> bytes;
  DecodedImage image;
  std::vector<uint8_t> resized;
  const size_t n = job.items->size();
  while (!job.stop.load(std::memory_order_relaxed)) {
    const size_t index = job.next.fetch_add(1);
    if (index >= n) break;
    std::string error = DecodeOne(job, index, bytes, image, resized);
    const bool failed = !error.empty();
    if (failed) {
      (*job.errors)[index] = std::move(error);
      if (job.stop_at_first_error) job.stop.store(true);
    }
    if (job.done.fetch_add(1) + 1 == n || (failed && job.stop_at_first_error)) job.Wake();
  }
}

std::string ClassOf(const ImageListing& listing, const ImageFile& file) { return listing.classes[file.label]; }

absl::Status BadFileError(const ImageListing& listing, const BadImage& bad) {
  return absl::FailedPreconditionError(absl::StrCat(ImageLayoutName(listing.layout), " dataset ", listing.dir, ": ",
                                                    bad.relative, ": ", bad.reason,
                                                    " (set dataset.skip_bad_images: true to skip bad files)"));
}

// Runs the decode over `threads` threads with a progress line every few
// seconds.
void DecodeAll(DecodeJob& job, int threads) {
  const size_t n = job.items->size();
  std::vector<std::thread> pool;
  threads = std::max(1, std::min<int>(threads, static_cast<int>(std::max<size_t>(n, 1))));
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) pool.emplace_back([&job] { DecodeWorker(job); });
  auto last = start;
  while (job.done.load() < n && !job.stop.load()) {
    std::unique_lock<std::mutex> lock(job.mu);
    job.finished.wait_for(lock, std::chrono::milliseconds(500),
                          [&job, n] { return job.done.load() >= n || job.stop.load(); });
    lock.unlock();
    const auto now = std::chrono::steady_clock::now();
    if (now - last >= std::chrono::seconds(5)) {
      last = now;
      const size_t done = job.done.load();
      const double seconds = std::chrono::duration<double>(now - start).count();
      spdlog::info("{} {}: decoded {}/{} images ({:.0f}%), {:.0f} images/s on {} threads",
                   ImageLayoutName(job.listing->layout), job.listing->dir, done, n, 100.0 * done / n, done / seconds,
                   threads);
    }
  }
  for (auto& thread : pool) thread.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("{} {}: decoded {} images in {:.1f} s ({:.0f} images/s on {} threads)",
               ImageLayoutName(job.listing->layout), job.listing->dir, job.done.load(), seconds,
               job.done.load() / std::max(seconds, 1e-9), threads);
}

absl::Status CheckCoverage(const ImageSet& set) {
  std::vector<int64_t> per_class(set.classes.size(), 0);
  const ImageSetPart& train = set.parts[static_cast<int>(ImageSplit::kTrain)];
  for (int64_t i = 0; i < train.count; ++i) ++per_class[train.labels[i]];
  const std::string where = absl::StrCat(ImageLayoutName(set.layout), " dataset ", set.dir, ": ");
  for (size_t c = 0; c < per_class.size(); ++c) {
    if (per_class[c] == 0) {
      return absl::FailedPreconditionError(absl::StrCat(where, "class '", set.classes[c],
                                                        "' has no usable training images (every one was skipped)"));
    }
  }
  if (set.parts[static_cast<int>(ImageSplit::kTest)].count == 0) {
    return absl::FailedPreconditionError(where + "the test split has no usable images");
  }
  if (set.has_validation && set.parts[static_cast<int>(ImageSplit::kValidation)].count == 0) {
    return absl::FailedPreconditionError(where + "val/ has no usable images");
  }
  return absl::OkStatus();
}

// Decodes the listing into a fresh set (no cache involved).
absl::StatusOr<ImageSet> Decode(const ImageListing& listing, const ImageSetOptions& options) {
  std::vector<Item> items;
  for (int s = 0; s < kImageSplits; ++s) {
    for (const auto& file : listing.files[s]) items.push_back(Item{static_cast<ImageSplit>(s), &file});
  }
  DecodeJob job;
  job.listing = &listing;
  job.items = &items;
  job.decode.max_pixels = options.max_image_pixels;
  job.decode.target_side = options.resize;
  job.stop_at_first_error = !options.skip_bad_images;
  std::vector<std::string> errors(items.size());
  std::vector<uint8_t> gray(items.size(), 0);
  job.errors = &errors;
  job.gray = &gray;
  if (options.resize > 0) {
    job.resize = true;
    job.height = job.width = options.resize;
  } else {
    // The native size is the first decodable image's; every other must match.
    std::vector<uint8_t> bytes;
    DecodedImage image;
    for (size_t i = 0; i < items.size() && job.width == 0; ++i) {
      const std::string path = (fs::path(listing.dir) / items[i].file->relative).string();
      if (!ReadFile(path, &bytes).ok() || !DecodeImage(bytes.data(), bytes.size(), job.decode, &image).ok()) continue;
      job.width = image.width;
      job.height = image.height;
      job.reference = items[i].file->relative;
    }
    if (job.width == 0) job.width = job.height = 1;  // nothing decodes: every item fails below
  }
  const size_t plane = static_cast<size_t>(job.height) * job.width;
  auto buffers = std::make_shared<Buffers>();
  buffers->images.resize(items.size() * 3 * plane);
  job.slots = buffers->images.data();
  const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  DecodeAll(job, threads);

  // Bad files in listing order: those the listing found, then the decoder's.
  std::vector<BadImage> skipped = listing.bad;
  for (size_t i = 0; i < items.size(); ++i) {
    if (errors[i].empty()) continue;
    BadImage bad{items[i].split, ClassOf(listing, *items[i].file), items[i].file->relative, errors[i]};
    if (!options.skip_bad_images) return BadFileError(listing, bad);
    skipped.push_back(std::move(bad));
  }
  // A thread may have stopped before an error was recorded for the rest;
  // without skipping, some error exists whenever job.stop is set.
  ImageSet set;
  set.layout = listing.layout;
  set.dir = listing.dir;
  set.classes = listing.classes;
  set.has_validation = listing.has_validation;
  set.height = job.height;
  set.width = job.width;
  set.skipped = std::move(skipped);
  bool all_gray = true;
  for (size_t i = 0; i < items.size(); ++i) {
    if (errors[i].empty() && gray[i] == 0) all_gray = false;
  }
  set.channels = all_gray ? 1 : 3;
  // Compact in place: kept images move down to their final slots of
  // channels * plane bytes; a gray image in a colour set gets three planes.
  const size_t out_image = static_cast<size_t>(set.channels) * plane;
  uint8_t* base = buffers->images.data();
  std::array<int64_t, kImageSplits> counts{};
  size_t kept = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!errors[i].empty()) continue;
    const uint8_t* from = base + i * 3 * plane;
    uint8_t* to = base + kept * out_image;
    if (set.channels == 1) {
      std::memmove(to, from, plane);
    } else {
      if (to != from) std::memmove(to, from, 3 * plane);
      if (gray[i]) {
        std::memcpy(to + plane, to, plane);
        std::memcpy(to + 2 * plane, to, plane);
      }
    }
    buffers->labels.push_back(items[i].file->label);
    ++counts[static_cast<int>(items[i].split)];
    ++kept;
  }
  buffers->images.resize(kept * out_image);
  buffers->images.shrink_to_fit();
  size_t offset = 0;
  for (int s = 0; s < kImageSplits; ++s) {
    set.parts[s] = ImageSetPart{buffers->images.data() + offset * out_image, buffers->labels.data() + offset, counts[s]};
    offset += counts[s];
  }
  set.storage = buffers;
  return set;
}

}  // namespace

absl::StatusOr<ImageSet> LoadImageSet(ImageLayout layout, const std::string& dir, const ImageSetOptions& options) {
  if (options.resize < 0 || options.resize > 4096) {
    return absl::InvalidArgumentError(absl::StrCat("dataset.resize must be in [0, 4096], got ", options.resize));
  }
  if (options.max_image_pixels <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("--max-image-pixels must be positive, got ", options.max_image_pixels));
  }
  ListingOptions listing_options;
  listing_options.data_root = options.data_root;
  auto listing = ListImageDataset(layout, dir, listing_options);
  if (!listing.ok()) return listing.status();
  if (!options.skip_bad_images && !listing->bad.empty()) return BadFileError(*listing, listing->bad.front());

  std::string cache_path;
  const std::string key = ImageCacheKey(*listing, options.resize, options.max_image_pixels);
  if (options.cache_dir != "none") {
    const std::string cache_dir =
        options.cache_dir.empty() ? (fs::path(listing->dir) / ".moe4-cache").string() : options.cache_dir;
    cache_path = ImageCachePath(cache_dir, *listing, key);
    auto cached = ReadImageCache(cache_path, key);
    if (cached.ok()) {
      cached->layout = layout;
      cached->dir = listing->dir;
      // The same files gave these bad entries when the cache was made.
      if (!options.skip_bad_images && !cached->skipped.empty()) {
        return BadFileError(*listing, cached->skipped.front());
      }
      if (auto s = CheckCoverage(*cached); !s.ok()) return s;
      spdlog::info("{} {}: {} images from the cache {}", ImageLayoutName(layout), listing->dir,
                   cached->parts[0].count + cached->parts[1].count + cached->parts[2].count, cache_path);
      return cached;
    }
    if (!absl::IsNotFound(cached.status())) {
      spdlog::warn("{}; decoding again", std::string(cached.status().message()));
    }
  }
  auto set = Decode(*listing, options);
  if (!set.ok()) return set.status();
  if (auto s = CheckCoverage(*set); !s.ok()) return s;
  if (!cache_path.empty()) {
    if (auto s = WriteImageCache(cache_path, key, *set); s.ok()) {
      set->cache_path = cache_path;
    } else {
      spdlog::warn("{} {}: not cached ({}); the next job decodes again (see --data-cache)", ImageLayoutName(layout),
                   listing->dir, std::string(s.message()));
    }
  }
  return set;
}

namespace {

// Length of the valid UTF-8 sequence at text[i], 0 when there is none
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceAt(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u; };
  const unsigned c = byte(i);
  const auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) { return byte(k) >= lo && byte(k) <= hi; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const bool second = c == 0xE0 ? cont(i + 1, 0xA0) : c == 0xED ? cont(i + 1, 0x80, 0x9F) : cont(i + 1);
    return second && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const bool second = c == 0xF0 ? cont(i + 1, 0x90) : c == 0xF4 ? cont(i + 1, 0x80, 0x8F) : cont(i + 1);
    return second && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

// `name` as printable UTF-8 of at most kMaxSkippedClassBytes: control
// characters and bytes outside a valid sequence become '?', and the cut
// falls between characters.
std::string PrintableClassName(const std::string& name) {
  if (name.empty()) return "(unlabelled)";
  std::string out;
  for (size_t i = 0; i < name.size();) {
    const size_t n = Utf8SequenceAt(name, i);
    const unsigned char c = static_cast<unsigned char>(name[i]);
    const bool printable = n > 1 || (n == 1 && c >= 0x20 && c != 0x7f);
    const size_t width = printable ? n : 1;  // bytes read, and written ('?' for one)
    if (out.size() + width > kMaxSkippedClassBytes) break;
    if (printable) {
      out.append(name, i, n);
    } else {
      out += '?';
    }
    i += width;
  }
  return out;
}

}  // namespace

std::map<std::string, int64_t> SkippedCounts(const std::vector<BadImage>& skipped) {
  std::map<std::string, int64_t> counts;
  for (const auto& bad : skipped) {
    ++counts[absl::StrCat(ImageSplitName(bad.split), "/", PrintableClassName(bad.class_name))];
  }
  return counts;
}

std::string DescribeSkipped(const std::vector<BadImage>& skipped) {
  if (skipped.empty()) return "";
  std::map<std::pair<int, std::string>, int64_t> counts;
  for (const auto& bad : skipped) ++counts[{static_cast<int>(bad.split), bad.class_name}];
  std::string text = absl::StrCat(skipped.size(), " bad file", skipped.size() == 1 ? "" : "s", " skipped:");
  for (const auto& [where, n] : counts) {
    absl::StrAppend(&text, " ", ImageSplitName(static_cast<ImageSplit>(where.first)), "/",
                    where.second.empty() ? "(unlabelled)" : where.second, " ", n, ",");
  }
  text.pop_back();
  absl::StrAppend(&text, " (first: ", skipped.front().relative, ": ", skipped.front().reason, ")");
  return text;
}

}  // namespace moe4::worker
