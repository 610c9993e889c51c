#include "worker/agent/checkpoint_dir.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

namespace moe4::worker {
namespace {

namespace fs = std::filesystem;

// The job id of "job-<digits>.pt", ".pt.tmp" or ".reports" (and the queue's
// own temp file), else nullopt.
std::optional<int64_t> JobOf(const std::string& name) {
  if (name.rfind("job-", 0) != 0) return std::nullopt;
  size_t end = 4;
  while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
  if (end == 4 || end - 4 > 18) return std::nullopt;
  const std::string rest = name.substr(end);
  if (rest != ".pt" && rest != ".pt.tmp" && rest != ".reports" && rest != ".reports.tmp") return std::nullopt;
  return std::stoll(name.substr(4, end - 4));
}

}  // namespace

std::string CheckpointDir::CheckpointPath(int64_t job_id) const {
  return (fs::path(dir_) / ("job-" + std::to_string(job_id) + ".pt")).string();
}

std::string CheckpointDir::ReportsPath(int64_t job_id) const {
  return (fs::path(dir_) / ("job-" + std::to_string(job_id) + ".reports")).string();
}

std::vector<CheckpointDir::Entry> CheckpointDir::List() const {
  std::vector<Entry> entries;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code file_ec;
    if (!it->is_regular_file(file_ec)) continue;
    const auto job = JobOf(it->path().filename().string());
    if (!job) continue;
    Entry entry;
    entry.job_id = *job;
    entry.path = it->path();
    entry.bytes = it->file_size(file_ec);
    if (file_ec) continue;  // removed meanwhile
    entry.modified = it->last_write_time(file_ec);
    if (file_ec) continue;
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.modified < b.modified; });
  return entries;
}

uintmax_t CheckpointDir::UsageBytes() const {
  uintmax_t total = 0;
  for (const auto& entry : List()) total += entry.bytes;
  return total;
}

void CheckpointDir::RemoveCheckpoint(int64_t job_id) const {
  std::error_code ignored;
  fs::remove(CheckpointPath(job_id), ignored);
  fs::remove(CheckpointPath(job_id) + ".tmp", ignored);
}

void CheckpointDir::RemoveJob(int64_t job_id) const {
  RemoveCheckpoint(job_id);
  std::error_code ignored;
  fs::remove(ReportsPath(job_id), ignored);
  fs::remove(ReportsPath(job_id) + ".tmp", ignored);
}

std::vector<int64_t> CheckpointDir::EnforceLimit(uintmax_t max_bytes, const std::set<int64_t>& running_job_ids) const {
  std::vector<int64_t> removed;
  if (max_bytes == 0) return removed;
  const std::vector<Entry> entries = List();
  uintmax_t total = 0;
  std::map<int64_t, uintmax_t> job_bytes;
  for (const auto& entry : entries) {
    total += entry.bytes;
    job_bytes[entry.job_id] += entry.bytes;
  }
  // Oldest first: a job is as old as the first of its files in that order.
  for (const auto& entry : entries) {
    if (total <= max_bytes) break;
    if (running_job_ids.count(entry.job_id) != 0 || job_bytes.count(entry.job_id) == 0) continue;
    RemoveJob(entry.job_id);
    total -= job_bytes[entry.job_id];
    job_bytes.erase(entry.job_id);
    removed.push_back(entry.job_id);
  }
  return removed;
}

std::vector<int64_t> CheckpointDir::SweepOlderThan(std::chrono::seconds max_age) const {
  std::vector<int64_t> removed;
  if (max_age.count() <= 0) return removed;
  std::map<int64_t, fs::file_time_type> newest;
  for (const auto& entry : List()) {
    auto [it, inserted] = newest.emplace(entry.job_id, entry.modified);
    if (!inserted) it->second = std::max(it->second, entry.modified);
  }
  const auto cutoff = fs::file_time_type::clock::now() - max_age;
  for (const auto& [job_id, modified] : newest) {
    if (modified >= cutoff) continue;
    RemoveJob(job_id);
    removed.push_back(job_id);
  }
  return removed;
}

}  // namespace moe4::worker
