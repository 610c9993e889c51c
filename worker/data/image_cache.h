// The on-disk cache of a decoded ImageSet: one file per (file list, resize,
// pixel limit), memory-mapped when read. The key is a SHA-256 of every
// listed file's path, size and modification time, the bad entries, the
// classes, the resize and the pixel limit, so that any change to the
// dataset makes a new key. Files are written to a temporary name, synced and
// renamed, so a crash never leaves a partial file under the final name; a
// reader also checks the header, the key and the file's length. No LibTorch.
// Stateless functions; safe from any thread and from several processes.
#ifndef MOE4_WORKER_DATA_IMAGE_CACHE_H_
#define MOE4_WORKER_DATA_IMAGE_CACHE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "worker/data/image_listing.h"
#include "worker/data/image_set.h"

namespace moe4::worker {

// 64 hex digits.
std::string ImageCacheKey(const ImageListing& listing, int resize, int64_t max_image_pixels);

// <cache_dir>/<D>-<L>-<K>.moe4img: 16 hex digits each of the dataset
// directory's hash, the file list's, and the key.
std::string ImageCachePath(const std::string& cache_dir, const ImageListing& listing, const std::string& key);

// Maps the cache file at `path` when it exists and holds `key`. NotFound
// when there is no file; DataLoss when the file is not a valid cache for the
// key (the caller decodes again and overwrites it).
absl::StatusOr<ImageSet> ReadImageCache(const std::string& path, const std::string& key);

// Writes `set` atomically under `path` (creating its directory) and removes
// the caches of the same dataset directory made from another file list.
absl::Status WriteImageCache(const std::string& path, const std::string& key, const ImageSet& set);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_IMAGE_CACHE_H_
