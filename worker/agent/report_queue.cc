#include "worker/agent/report_queue.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace moe4::worker {

ReportQueue::ReportQueue(std::string path) : path_(std::move(path)) {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return;
  std::stringstream bytes;
  bytes << in.rdbuf();
  moe4::v1::ReportEpochsRequest container;
  if (!container.ParseFromString(bytes.str())) {
    load_error_ = path_ + ": unreadable report queue, ignored";
    return;
  }
  pending_.assign(container.epochs().begin(), container.epochs().end());
}

absl::Status ReportQueue::Push(const moe4::v1::EpochMetrics& metrics) {
  for (auto& m : pending_) {
    if (m.epoch() == metrics.epoch()) {
      m = metrics;
      return Save();
    }
  }
  pending_.push_back(metrics);
  return Save();
}

absl::Status ReportQueue::Drop(size_t count) {
  count = std::min(count, pending_.size());
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(count));
  return Save();
}

absl::Status ReportQueue::Clear() {
  pending_.clear();
  return Save();
}

void ReportQueue::Remove() {
  pending_.clear();
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

absl::Status ReportQueue::Save() {
  moe4::v1::ReportEpochsRequest container;
  for (const auto& m : pending_) *container.add_epochs() = m;
  const std::string tmp = path_ + ".tmp";
  {
    std::error_code ec;
    const auto parent = std::filesystem::path(path_).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !container.SerializeToOstream(&out)) {
      return absl::InternalError(tmp + ": cannot write report queue");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path_, ec);
  if (ec) return absl::InternalError(path_ + ": cannot rename report queue: " + ec.message());
  return absl::OkStatus();
}

}  // namespace moe4::worker
