#include "worker/data/image_cache.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace moe4::worker {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'M', 'O', 'E', '4', 'I', 'M', 'G', '\0'};
// Bump when the pixels a given file list decodes to change (decoder, resize
// filter, channel rule) or the layout below does: old caches then miss.
constexpr uint32_t kVersion = 1;
constexpr uint64_t kAlign = 64;
constexpr uint32_t kMaxStringBytes = 1 << 20;

// The fixed start of a cache file. Native byte order: a cache is written
// and read on the same machine; `endian` catches anything else.
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t endian;  // 0x01020304
  uint32_t channels;
  uint32_t height;
  uint32_t width;
  uint32_t num_classes;
  uint32_t has_validation;
  uint32_t num_skipped;
  uint64_t counts[kImageSplits];
  uint64_t meta_offset;    // length-prefixed strings: classes, then 4 per skipped entry
  uint64_t labels_offset;  // int32 labels of every split, in split order
  uint64_t images_offset;  // uint8 images of every split, in split order
  uint64_t total_bytes;    // the file's length
  char key[64];
};

uint64_t Align(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

void AppendString(std::string& out, const std::string& s) {
  const uint32_t n = static_cast<uint32_t>(s.size());
  out.append(reinterpret_cast<const char*>(&n), sizeof(n));
  out.append(s);
}

// Reads one length-prefixed string from [*at, end); false when it overruns.
bool ReadString(const char*& at, const char* end, std::string* out) {
  uint32_t n = 0;
  if (end - at < static_cast<std::ptrdiff_t>(sizeof(n))) return false;
  std::memcpy(&n, at, sizeof(n));
  at += sizeof(n);
  if (n > kMaxStringBytes || end - at < static_cast<std::ptrdiff_t>(n)) return false;
  out->assign(at, n);
  at += n;
  return true;
}

// An mmap'd cache file, unmapped when the last ImageSet sharing it goes.
struct Mapping {
  void* address = MAP_FAILED;
  size_t bytes = 0;
  ~Mapping() {
    if (address != MAP_FAILED) munmap(address, bytes);
  }
};

absl::Status WriteAll(int fd, const void* data, size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, std::min<size_t>(bytes, 1 << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat(path, ": write failed: ", std::strerror(errno)));
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// Everything about the files, nothing about how they are decoded.
std::string ListMaterial(const ImageListing& listing) {
  std::string material = absl::StrCat("moe4-image-cache v", kVersion, "\n", ImageLayoutName(listing.layout), "\n",
                                      listing.dir, "\nhas_validation ", listing.has_validation ? 1 : 0, "\n");
  for (const auto& name : listing.classes) AppendString(material, name);
  for (int s = 0; s < kImageSplits; ++s) {
    material += absl::StrCat("split ", s, " ", listing.files[s].size(), "\n");
    for (const auto& file : listing.files[s]) {
      AppendString(material, file.relative);
      material += absl::StrCat(file.label, " ", file.bytes, " ", file.mtime_ns, "\n");
    }
  }
  for (const auto& bad : listing.bad) {
    material += absl::StrCat("bad ", static_cast<int>(bad.split), "\n");
    AppendString(material, bad.relative);
    AppendString(material, bad.reason);
  }
  return material;
}

}  // namespace

std::string ImageCacheKey(const ImageListing& listing, int resize, int64_t max_image_pixels) {
  return Sha256Hex(absl::StrCat(ListMaterial(listing), "resize ", resize, "\nmax_pixels ", max_image_pixels, "\n"));
}

std::string ImageCachePath(const std::string& cache_dir, const ImageListing& listing, const std::string& key) {
  return (fs::path(cache_dir) / absl::StrCat(Sha256Hex(listing.dir).substr(0, 16), "-",
                                             Sha256Hex(ListMaterial(listing)).substr(0, 16), "-", key.substr(0, 16),
                                             ".moe4img"))
      .string();
}

absl::StatusOr<ImageSet> ReadImageCache(const std::string& path, const std::string& key) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(path + ": no cache");
    return absl::DataLossError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(Header))) {
    ::close(fd);
    return absl::DataLossError(path + ": shorter than a cache header");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->bytes = static_cast<size_t>(st.st_size);
  // Private and writable: tensors made from it are plain CPU tensors, and a
  // write (none is expected) would copy the page, never reach the file.
  mapping->address = ::mmap(nullptr, mapping->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping->address == MAP_FAILED) return absl::DataLossError(absl::StrCat(path, ": mmap: ", std::strerror(errno)));
  const char* base = static_cast<const char*>(mapping->address);
  Header header;
  std::memcpy(&header, base, sizeof(header));
  auto invalid = [&](const std::string& why) { return absl::DataLossError(path + ": not a valid cache (" + why + ")"); };
  if (std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0) return invalid("magic");
  if (header.version != kVersion) return invalid(absl::StrCat("version ", header.version));
  if (header.endian != 0x01020304) return invalid("byte order");
  if (std::string(header.key, sizeof(header.key)) != key) return invalid("key");
  if (header.total_bytes != mapping->bytes) {
    return invalid(absl::StrCat("length ", mapping->bytes, ", header says ", header.total_bytes));
  }
  if (header.channels != 1 && header.channels != 3) return invalid("channels");
  if (header.height == 0 || header.width == 0 || header.height > 4096 || header.width > 4096) return invalid("size");
  uint64_t count = 0;
  for (uint64_t c : header.counts) {
    if (c > (1ULL << 32)) return invalid("counts");
    count += c;
  }
  const uint64_t image_bytes = uint64_t{header.channels} * header.height * header.width;
  if (header.meta_offset < sizeof(Header) || header.labels_offset < header.meta_offset ||
      header.images_offset < header.labels_offset + count * sizeof(int32_t) ||
      header.images_offset + count * image_bytes != header.total_bytes) {
    return invalid("offsets");
  }
  ImageSet set;
  set.channels = static_cast<int>(header.channels);
  set.height = static_cast<int>(header.height);
  set.width = static_cast<int>(header.width);
  set.has_validation = header.has_validation != 0;
  const char* at = base + header.meta_offset;
  const char* end = base + header.labels_offset;
  set.classes.resize(header.num_classes);
  for (auto& name : set.classes) {
    if (!ReadString(at, end, &name)) return invalid("classes");
  }
  set.skipped.resize(header.num_skipped);
  for (auto& bad : set.skipped) {
    std::string split;
    if (!ReadString(at, end, &split) || !ReadString(at, end, &bad.class_name) || !ReadString(at, end, &bad.relative) ||
        !ReadString(at, end, &bad.reason) || split.size() != 1 || split[0] < '0' || split[0] > '2') {
      return invalid("skipped entries");
    }
    bad.split = static_cast<ImageSplit>(split[0] - '0');
  }
  const auto* labels = reinterpret_cast<const int32_t*>(base + header.labels_offset);
  const auto* images = reinterpret_cast<const uint8_t*>(base + header.images_offset);
  for (uint64_t i = 0; i < count; ++i) {
    if (labels[i] < 0 || static_cast<uint32_t>(labels[i]) >= header.num_classes) return invalid("labels");
  }
  for (int s = 0; s < kImageSplits; ++s) {
    set.parts[s] = ImageSetPart{images, labels, static_cast<int64_t>(header.counts[s])};
    images += header.counts[s] * image_bytes;
    labels += header.counts[s];
  }
  set.storage = mapping;
  set.from_cache = true;
  set.cache_path = path;
  return set;
}

absl::Status WriteImageCache(const std::string& path, const std::string& key, const ImageSet& set) {
  const fs::path final_path(path);
  std::error_code ec;
  fs::create_directories(final_path.parent_path(), ec);
  if (ec) return absl::InternalError(absl::StrCat(final_path.parent_path().string(), ": ", ec.message()));
  std::string meta;
  for (const auto& name : set.classes) AppendString(meta, name);
  for (const auto& bad : set.skipped) {
    AppendString(meta, std::string(1, static_cast<char>('0' + static_cast<int>(bad.split))));
    AppendString(meta, bad.class_name);
    AppendString(meta, bad.relative);
    AppendString(meta, bad.reason);
  }
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.version = kVersion;
  header.endian = 0x01020304;
  header.channels = static_cast<uint32_t>(set.channels);
  header.height = static_cast<uint32_t>(set.height);
  header.width = static_cast<uint32_t>(set.width);
  header.num_classes = static_cast<uint32_t>(set.classes.size());
  header.has_validation = set.has_validation ? 1 : 0;
  header.num_skipped = static_cast<uint32_t>(set.skipped.size());
  uint64_t count = 0;
  for (int s = 0; s < kImageSplits; ++s) {
    header.counts[s] = static_cast<uint64_t>(set.parts[s].count);
    count += header.counts[s];
  }
  const uint64_t image_bytes = uint64_t{header.channels} * header.height * header.width;
  header.meta_offset = Align(sizeof(Header));
  header.labels_offset = Align(header.meta_offset + meta.size());
  header.images_offset = Align(header.labels_offset + count * sizeof(int32_t));
  header.total_bytes = header.images_offset + count * image_bytes;
  if (key.size() != sizeof(header.key)) return absl::InternalError("cache key is not 64 hex digits");
  std::memcpy(header.key, key.data(), sizeof(header.key));

  // A name no other writer uses: this process and thread.
  const std::string temp = absl::StrCat(path, ".tmp-", ::getpid(), "-",
                                        std::hash<std::thread::id>{}(std::this_thread::get_id()));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat(temp, ": ", std::strerror(errno)));
  absl::Status s;
  const std::string zeros(kAlign, '\0');
  uint64_t written = 0;
  auto put = [&](const void* data, uint64_t bytes) {
    if (s.ok()) s = WriteAll(fd, data, bytes, temp);
    written += bytes;
  };
  auto pad_to = [&](uint64_t offset) { put(zeros.data(), offset - written); };
  put(&header, sizeof(header));
  pad_to(header.meta_offset);
  put(meta.data(), meta.size());
  pad_to(header.labels_offset);
  for (const auto& part : set.parts) put(part.labels, part.count * sizeof(int32_t));
  pad_to(header.images_offset);
  for (const auto& part : set.parts) put(part.images, part.count * image_bytes);
  if (s.ok() && ::fsync(fd) != 0) s = absl::InternalError(absl::StrCat(temp, ": fsync: ", std::strerror(errno)));
  if (::close(fd) != 0 && s.ok()) s = absl::InternalError(absl::StrCat(temp, ": close: ", std::strerror(errno)));
  if (s.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    s = absl::InternalError(absl::StrCat(path, ": rename: ", std::strerror(errno)));
  }
  if (!s.ok()) {
    ::unlink(temp.c_str());
    return s;
  }
  // Caches of an older file list of this dataset can never be read again;
  // those of the same files at another resize stay. A reader that has a
  // removed one mapped keeps its pages until it unmaps.
  const std::string name_here = final_path.filename().string();
  const std::string dataset_prefix = name_here.substr(0, 17);  // "<16 hex of the dir>-"
  const std::string list_prefix = name_here.substr(0, 34);     // and "<16 hex of the list>-"
  for (fs::directory_iterator it(final_path.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(dataset_prefix, 0) == 0 && name.rfind(list_prefix, 0) != 0 && name.size() > 8 &&
        name.compare(name.size() - 8, 8, ".moe4img") == 0) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
  return absl::OkStatus();
}

}  // namespace moe4::worker
