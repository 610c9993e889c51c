#include "worker/data/image_listing.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "worker/data/data_root.h"

namespace moe4::worker {
namespace {

namespace fs = std::filesystem;

// Symlinked directories may nest; deeper than this is refused (a chain of
// links that never repeats a directory can still be absurdly deep).
constexpr int kMaxDepth = 16;
constexpr int64_t kMaxTextFileBytes = 64LL << 20;  // wnids.txt, val_annotations.txt

bool HasImageExtension(const fs::path& path) {
  const std::string extension = absl::AsciiStrToLower(path.extension().string());
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

bool Hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// A directory's entries without hidden ones, sorted by name. The entries
// keep readdir's file type, so telling a symlink costs no system call.
std::vector<fs::directory_entry> SortedEntries(const fs::path& directory, std::error_code& ec) {
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    if (!Hidden(it->path())) entries.push_back(*it);
  }
  // One directory: comparing the whole strings orders by file name, and is
  // cheaper than fs::path's element-wise comparison.
  std::sort(entries.begin(), entries.end(), [](const fs::directory_entry& a, const fs::directory_entry& b) {
    return a.path().native() < b.path().native();
  });
  return entries;
}

// An open directory, so that each of its entries is stat'ed without
// walking the whole path again (50,000 images: one fstatat each).
class DirFd {
 public:
  explicit DirFd(const fs::path& directory) : fd_(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {}
  ~DirFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  DirFd(const DirFd&) = delete;
  DirFd& operator=(const DirFd&) = delete;
  // stat (following symlinks) of `entry` in this directory; errno on failure.
  int Stat(const fs::path& entry, struct stat* st) const {
    if (fd_ < 0) return ::stat(entry.c_str(), st) == 0 ? 0 : errno;
    return ::fstatat(fd_, entry.filename().c_str(), st, 0) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// One walk over a dataset: where it is, the root symlinks must stay in, and
// the listing being filled.
class Walker {
 public:
  Walker(const fs::path& dir, const fs::path& root, const ListingOptions& options, ImageListing* listing)
      : dir_(dir), root_(root), options_(options), listing_(listing) {}

  // Lists the files under `class_dir` (recursively) as images of `label`
  // (-1: a class train/ lacks, every file bad with `unknown_reason`).
  absl::Status WalkClass(const fs::path& class_dir, ImageSplit split, const std::string& class_name, int label,
                         const std::string& unknown_reason) {
    std::vector<fs::path> ancestors;
    std::error_code ec;
    ancestors.push_back(fs::canonical(class_dir, ec));
    if (ec) return Unreadable(class_dir, ec);
    return Walk(class_dir, split, class_name, label, unknown_reason, ancestors);
  }

  // Whether `entry` is usable: for a symlink, that it resolves and stays in
  // the root; records a bad entry and returns false otherwise.
  bool CheckLink(const fs::path& entry, ImageSplit split, const std::string& class_name) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(entry, ec))) return true;
    const fs::path target = fs::canonical(entry, ec);
    if (ec) {
      Bad(split, class_name, entry,
          ec.value() == ELOOP ? "symlink loop (the link resolves to itself)"
                              : absl::StrCat("broken symlink (", ec.message(), ")"));
      return false;
    }
    if (!PathInside(target, root_)) {
      Bad(split, class_name, entry,
          absl::StrCat("symlink to ", target.string(), ", outside this worker's --data-root ", root_.string()));
      return false;
    }
    return true;
  }

  std::string Relative(const fs::path& path) const { return path.lexically_relative(dir_).generic_string(); }

  void Bad(ImageSplit split, const std::string& class_name, const fs::path& path, std::string reason) {
    listing_->bad.push_back(BadImage{split, class_name, Relative(path), std::move(reason)});
  }

  // `known`: the file's stat when the caller has it (else it is stat'ed here).
  absl::Status AddFile(const fs::path& path, ImageSplit split, const std::string& class_name, int label,
                       const std::string& unknown_reason, const struct stat* known = nullptr) {
    if (++entries_ > options_.max_entries) {
      return absl::FailedPreconditionError(absl::StrCat(ImageLayoutName(listing_->layout), " dataset ", dir_.string(),
                                                        ": more than ", options_.max_entries, " files"));
    }
    if (label < 0) {
      Bad(split, class_name, path, unknown_reason);
      return absl::OkStatus();
    }
    if (!HasImageExtension(path)) {
      Bad(split, class_name, path, "not an image file (expected .jpg, .jpeg or .png)");
      return absl::OkStatus();
    }
    struct stat st {};
    if (known != nullptr) {
      st = *known;
    } else if (::stat(path.c_str(), &st) != 0) {
      Bad(split, class_name, path, absl::StrCat("unreadable (", std::strerror(errno), ")"));
      return absl::OkStatus();
    }
    ImageFile file;
    file.relative = Relative(path);
    file.label = label;
    file.bytes = static_cast<uint64_t>(st.st_size);
    file.mtime_ns = MtimeNs(st);
    listing_->files[static_cast<int>(split)].push_back(std::move(file));
    return absl::OkStatus();
  }

  absl::Status Unreadable(const fs::path& path, const std::error_code& ec) const {
    return absl::FailedPreconditionError(absl::StrCat(ImageLayoutName(listing_->layout), " dataset ", dir_.string(),
                                                      ": cannot read ", Relative(path), " (", ec.message(), ")"));
  }

 private:
  absl::Status Walk(const fs::path& directory, ImageSplit split, const std::string& class_name, int label,
                    const std::string& unknown_reason, std::vector<fs::path>& ancestors) {
    std::error_code ec;
    auto entries = SortedEntries(directory, ec);
    if (ec) return Unreadable(directory, ec);
    const DirFd dir(directory);
    for (const fs::directory_entry& item : entries) {
      const fs::path& entry = item.path();
      std::error_code type_ec;
      if (item.is_symlink(type_ec) && !CheckLink(entry, split, class_name)) continue;
      struct stat st {};
      if (const int error = dir.Stat(entry, &st); error != 0) {
        Bad(split, class_name, entry, absl::StrCat("unreadable (", std::strerror(error), ")"));
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        const fs::path canonical = fs::canonical(entry, ec);
        if (ec) {
          Bad(split, class_name, entry, absl::StrCat("unreadable (", ec.message(), ")"));
          continue;
        }
        // A link to a directory above this one (or one this walk is
        // already inside) would list the same files forever.
        if (PathInside(ancestors.back(), canonical) ||
            std::find(ancestors.begin(), ancestors.end(), canonical) != ancestors.end()) {
          Bad(split, class_name, entry,
              absl::StrCat("symlink loop (leads back to ", Relative(canonical), ")"));
          continue;
        }
        if (static_cast<int>(ancestors.size()) > kMaxDepth) {
          Bad(split, class_name, entry, absl::StrCat("nested more than ", kMaxDepth, " directories deep"));
          continue;
        }
        ancestors.push_back(canonical);
        auto s = Walk(entry, split, class_name, label, unknown_reason, ancestors);
        ancestors.pop_back();
        if (!s.ok()) return s;
      } else if (S_ISREG(st.st_mode)) {
        if (auto s = AddFile(entry, split, class_name, label, unknown_reason, &st); !s.ok()) return s;
      } else {
        Bad(split, class_name, entry, "not a regular file");
      }
    }
    return absl::OkStatus();
  }

  const fs::path dir_;
  const fs::path root_;
  const ListingOptions& options_;
  ImageListing* listing_;
  int64_t entries_ = 0;
};

absl::Status LayoutError(const ImageListing& listing, const std::string& problem) {
  return absl::FailedPreconditionError(
      absl::StrCat(ImageLayoutName(listing.layout), " dataset ", listing.dir, ": ", problem));
}

// The class directories directly under `split_dir` (symlinks followed when
// they stay in the root), by name.
absl::StatusOr<std::map<std::string, fs::path>> ClassDirs(const fs::path& split_dir, ImageSplit split,
                                                           Walker& walker) {
  std::map<std::string, fs::path> classes;
  std::error_code ec;
  for (fs::directory_iterator it(split_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& entry = it->path();
    if (Hidden(entry)) continue;
    if (!walker.CheckLink(entry, split, entry.filename().string())) continue;
    std::error_code status_ec;
    if (fs::is_directory(entry, status_ec)) classes.emplace(entry.filename().string(), entry);
  }
  if (ec) return walker.Unreadable(split_dir, ec);
  return classes;
}

void SortListing(ImageListing& listing) {
  for (auto& files : listing.files) {
    std::sort(files.begin(), files.end(), [](const ImageFile& a, const ImageFile& b) {
      return a.label != b.label ? a.label < b.label : a.relative < b.relative;
    });
  }
}

absl::Status ListFolder(const fs::path& dir, Walker& walker, ImageListing& listing, const ListingOptions& options) {
  const fs::path train = dir / "train";
  const fs::path test = dir / "test";
  std::error_code ec;
  if (!fs::is_directory(train, ec)) {
    return LayoutError(listing, "no train/ directory (expected train/<class>/*.jpg|*.jpeg|*.png and test/<class>/...)");
  }
  if (!fs::is_directory(test, ec)) {
    return LayoutError(listing, "no test/ directory (expected test/<class>/... with the classes of train/)");
  }
  auto train_classes = ClassDirs(train, ImageSplit::kTrain, walker);
  if (!train_classes.ok()) return train_classes.status();
  if (train_classes->empty()) return LayoutError(listing, "train/ has no class directories");
  if (static_cast<int>(train_classes->size()) > options.max_classes) {
    return LayoutError(listing, absl::StrCat("train/ has ", train_classes->size(), " class directories, over ",
                                             options.max_classes));
  }
  std::map<std::string, int> labels;
  for (const auto& [name, path] : *train_classes) {
    const int label = static_cast<int>(listing.classes.size());
    labels[name] = label;
    listing.classes.push_back(name);
    const size_t before = listing.files[0].size();
    if (auto s = walker.WalkClass(path, ImageSplit::kTrain, name, label, ""); !s.ok()) return s;
    if (listing.files[0].size() == before) {
      return LayoutError(listing, absl::StrCat("class '", name, "' has no images in train/", name,
                                               " (every class of train/ needs .jpg, .jpeg or .png files)"));
    }
  }
  const fs::path val = dir / "val";
  listing.has_validation = fs::is_directory(val, ec);
  for (const auto& [split, split_dir] :
       {std::pair{ImageSplit::kTest, test}, std::pair{ImageSplit::kValidation, val}}) {
    if (split == ImageSplit::kValidation && !listing.has_validation) continue;
    auto classes = ClassDirs(split_dir, split, walker);
    if (!classes.ok()) return classes.status();
    for (const auto& [name, path] : *classes) {
      const auto known = labels.find(name);
      const std::string unknown = absl::StrCat("class '", name, "' is in ", ImageSplitName(split),
                                               "/ but not in train/ (the classes are train/'s directories)");
      if (auto s = walker.WalkClass(path, split, name, known == labels.end() ? -1 : known->second, unknown);
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSmallText(const fs::path& path, const ImageListing& listing) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return LayoutError(listing, absl::StrCat("cannot read ", path.filename().string(), " (", ec.message(), ")"));
  if (size > static_cast<uintmax_t>(kMaxTextFileBytes)) {
    return LayoutError(listing, absl::StrCat(path.filename().string(), " is ", size, " bytes, over ",
                                             kMaxTextFileBytes));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return LayoutError(listing, absl::StrCat("cannot read ", path.filename().string()));
  return text.str();
}

bool ValidWnid(absl::string_view wnid) {
  return !wnid.empty() && wnid.size() <= 100 && std::all_of(wnid.begin(), wnid.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_' || c == '-';
         });
}

absl::Status ListTinyImageNet(const fs::path& dir, Walker& walker, ImageListing& listing,
                              const ListingOptions& options) {
  auto wnids_text = ReadSmallText(dir / "wnids.txt", listing);
  if (!wnids_text.ok()) return wnids_text.status();
  std::set<std::string> wnids;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*wnids_text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (!ValidWnid(line)) {
      return LayoutError(listing, absl::StrCat("wnids.txt line ", line_number, ": not a class id: '",
                                               std::string(line.substr(0, 100)), "'"));
    }
    if (!wnids.insert(std::string(line)).second) {
      return LayoutError(listing, absl::StrCat("wnids.txt line ", line_number, ": '", std::string(line),
                                               "' listed twice"));
    }
  }
  if (wnids.empty()) return LayoutError(listing, "wnids.txt lists no classes");
  if (static_cast<int>(wnids.size()) > options.max_classes) {
    return LayoutError(listing, absl::StrCat("wnids.txt lists ", wnids.size(), " classes, over ", options.max_classes));
  }
  std::map<std::string, int> labels;
  for (const auto& wnid : wnids) {
    labels[wnid] = static_cast<int>(listing.classes.size());
    listing.classes.push_back(wnid);
  }
  std::error_code ec;
  const fs::path train = dir / "train";
  if (!fs::is_directory(train, ec)) return LayoutError(listing, "no train/ directory (train/<wnid>/images/*.JPEG)");
  auto train_classes = ClassDirs(train, ImageSplit::kTrain, walker);
  if (!train_classes.ok()) return train_classes.status();
  for (const auto& [name, path] : *train_classes) {
    const auto known = labels.find(name);
    const fs::path images = path / "images";
    if (known == labels.end()) {
      if (fs::is_directory(images, ec)) {
        if (auto s = walker.WalkClass(images, ImageSplit::kTrain, name, -1,
                                      absl::StrCat("class '", name, "' is in train/ but not in wnids.txt"));
            !s.ok()) {
          return s;
        }
      }
      continue;
    }
    if (!fs::is_directory(images, ec)) continue;  // reported as a class without images below
    if (auto s = walker.WalkClass(images, ImageSplit::kTrain, name, known->second, ""); !s.ok()) return s;
  }
  std::vector<int> counts(listing.classes.size(), 0);
  for (const auto& file : listing.files[0]) ++counts[file.label];
  for (size_t c = 0; c < counts.size(); ++c) {
    if (counts[c] == 0) {
      return LayoutError(listing, absl::StrCat("class '", listing.classes[c], "' (wnids.txt) has no images in train/",
                                               listing.classes[c], "/images"));
    }
  }
  // val/ is the labelled hold-out of the release: it is this dataset's test split.
  const fs::path val_images = dir / "val" / "images";
  if (!fs::is_directory(val_images, ec)) {
    return LayoutError(listing, "no val/images/ directory (TinyImageNet's labelled val/ is the test split)");
  }
  auto annotations_text = ReadSmallText(dir / "val" / "val_annotations.txt", listing);
  if (!annotations_text.ok()) return annotations_text.status();
  std::map<std::string, std::string> annotation;  // file name -> wnid
  line_number = 0;
  for (absl::string_view line : absl::StrSplit(*annotations_text, '\n')) {
    ++line_number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    if (fields.size() < 2 || fields[0].empty() || fields[1].empty()) {
      return LayoutError(listing, absl::StrCat("val/val_annotations.txt line ", line_number,
                                               ": expected <file>\\t<wnid>[\\t<box>...]"));
    }
    annotation[std::string(fields[0])] = std::string(absl::StripAsciiWhitespace(fields[1]));
  }
  // Labels come per file from the annotations, not from a directory.
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(val_images, ec), end; !ec && it != end; it.increment(ec)) {
    if (!Hidden(it->path())) entries.push_back(it->path());
  }
  if (ec) return walker.Unreadable(val_images, ec);
  std::sort(entries.begin(), entries.end());
  for (const fs::path& entry : entries) {
    const std::string name = entry.filename().string();
    const auto labelled = annotation.find(name);
    const std::string wnid = labelled == annotation.end() ? "" : labelled->second;
    if (!walker.CheckLink(entry, ImageSplit::kTest, wnid)) continue;
    if (!fs::is_regular_file(entry, ec)) {
      walker.Bad(ImageSplit::kTest, wnid, entry, "not a regular file");
      continue;
    }
    if (labelled == annotation.end()) {
      walker.Bad(ImageSplit::kTest, "", entry, "no label in val/val_annotations.txt");
      continue;
    }
    const auto known = labels.find(wnid);
    const std::string unknown =
        absl::StrCat("class '", wnid, "' (val/val_annotations.txt) is not in wnids.txt");
    if (auto s = walker.AddFile(entry, ImageSplit::kTest, wnid, known == labels.end() ? -1 : known->second, unknown);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

const char* ImageSplitName(ImageSplit split) {
  switch (split) {
    case ImageSplit::kTrain:
      return "train";
    case ImageSplit::kValidation:
      return "val";
    case ImageSplit::kTest:
      return "test";
  }
  return "?";
}

const char* ImageLayoutName(ImageLayout layout) {
  return layout == ImageLayout::kTinyImageNet ? "tinyimagenet" : "folder";
}

absl::StatusOr<ImageListing> ListImageDataset(ImageLayout layout, const std::string& dir,
                                              const ListingOptions& options) {
  ImageListing listing;
  listing.layout = layout;
  auto root = CanonicalDataRoot(options.data_root);
  if (!root.ok()) return root.status();
  std::error_code ec;
  const fs::path canonical = fs::canonical(dir, ec);
  listing.dir = ec ? dir : canonical.string();
  if (ec) return LayoutError(listing, absl::StrCat("cannot open the directory (", ec.message(), ")"));
  if (!fs::is_directory(canonical, ec)) return LayoutError(listing, "not a directory");
  Walker walker(canonical, *root, options, &listing);
  const absl::Status s = layout == ImageLayout::kTinyImageNet ? ListTinyImageNet(canonical, walker, listing, options)
                                                              : ListFolder(canonical, walker, listing, options);
  if (!s.ok()) return s;
  SortListing(listing);
  return listing;
}

}  // namespace moe4::worker
