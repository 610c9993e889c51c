#include "worker/data/data_root.h"

#include <iterator>

#include "absl/status/status.h"

namespace moe4::worker {

absl::StatusOr<std::filesystem::path> CanonicalDataRoot(const std::string& data_root) {
  const std::filesystem::path root_given = data_root.empty() ? kDefaultDataRoot : data_root;
  std::error_code ec;
  // weakly_canonical: symlinks resolved along the part that exists, ".."
  // folded lexically in the rest (which has no links to follow).
  std::filesystem::path root = std::filesystem::weakly_canonical(std::filesystem::absolute(root_given), ec);
  if (ec) return absl::FailedPreconditionError("--data-root " + root_given.string() + ": " + ec.message());
  return root;
}

bool PathInside(const std::filesystem::path& path, const std::filesystem::path& root) {
  auto r = root.begin();
  auto p = path.begin();
  for (; r != root.end() && p != path.end() && *r == *p; ++r, ++p) {
  }
  // weakly_canonical keeps a trailing separator as an empty last component.
  return r == root.end() || (std::next(r) == root.end() && r->empty());
}

absl::StatusOr<std::string> ResolveDatasetDir(const std::string& path, const std::string& data_root) {
  const std::filesystem::path root_given = data_root.empty() ? kDefaultDataRoot : data_root;
  const std::filesystem::path given = path;
  // Relative paths are taken from the root; an absolute one is accepted when
  // it lies inside it (campaigns stored before paths had to be relative).
  const std::filesystem::path candidate = given.is_absolute() ? given : root_given / given;
  auto root = CanonicalDataRoot(data_root);
  if (!root.ok()) return root.status();
  std::error_code ec;
  const std::filesystem::path resolved = std::filesystem::weakly_canonical(candidate, ec);
  if (ec) return absl::NotFoundError("dataset.path '" + path + "': " + ec.message());
  if (!PathInside(resolved, *root)) {
    return absl::InvalidArgumentError("dataset.path '" + path + "' resolves to " + resolved.string() +
                                      ", outside this worker's --data-root " + root->string() +
                                      " (give a path relative to the data root, without symlinks that leave it)");
  }
  return resolved.string();
}

}  // namespace moe4::worker
