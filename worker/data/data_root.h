// The worker's --data-root: where datasets live, and the check that keeps a
// campaign's dataset.path (and every symlink inside a dataset) on it. No
// LibTorch. Stateless functions; safe from any thread.
#ifndef MOE4_WORKER_DATA_DATA_ROOT_H_
#define MOE4_WORKER_DATA_DATA_ROOT_H_

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace moe4::worker {

// Where datasets live when neither the spec nor --data-root says otherwise
// (Debian's dataset-fashion-mnist installs under it).
inline constexpr char kDefaultDataRoot[] = "/usr/share/datasets";

// The directory a spec's dataset.path names, resolved after symlinks
// (std::filesystem::weakly_canonical): a relative path is taken from
// data_root ("" = kDefaultDataRoot), an absolute one as it is. Either must
// end up inside the data root, so a campaign cannot point workers at any
// file on their disks (`path: ../../../../etc`); InvalidArgument naming the
// path, where it resolved to and the root otherwise (a bad spec: the agent
// fails the job without a retry). Files of the built-in datasets inside an
// accepted directory are the operator's and are not checked; image folders
// check every symlink they follow with PathInside.
absl::StatusOr<std::string> ResolveDatasetDir(const std::string& path, const std::string& data_root);

// The data root itself, resolved like ResolveDatasetDir resolves it.
absl::StatusOr<std::filesystem::path> CanonicalDataRoot(const std::string& data_root);

// Whether the canonical `path` lies inside (or is) the canonical `root`:
// the root's components are a prefix of the path's (a string prefix would
// take /data-other for /data).
bool PathInside(const std::filesystem::path& path, const std::filesystem::path& root);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_DATA_ROOT_H_
