#include "coordinator/scheduler/pending_reason.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace moe4::coordinator {
namespace {

std::string Jobs(int n) { return absl::StrCat(n, n == 1 ? " pending job" : " pending jobs"); }

std::string Requirement(const PendingGroup& g) {
  std::vector<std::string> parts;
  if (!g.device_kind.empty()) parts.push_back(absl::StrCat("device_kind=", g.device_kind));
  if (g.min_memory_mb > 0) parts.push_back(absl::StrCat("min_memory_mb=", g.min_memory_mb));
  return parts.empty() ? "no particular device" : absl::StrJoin(parts, ", ");
}

std::string DescribeWorkers(const std::vector<LiveWorker>& live) {
  // "2 cpu, 1 cuda (24564 MB)": grouped by kind and memory, in a stable order.
  std::map<std::pair<std::string, int64_t>, int> groups;
  for (const auto& w : live) groups[{w.device_kind, w.device_memory_mb}]++;
  std::vector<std::string> parts;
  for (const auto& [key, n] : groups) {
    std::string s = absl::StrCat(n, " ", key.first.empty() ? "unknown-device" : key.first);
    if (key.second > 0) absl::StrAppend(&s, " (", key.second, " MB)");
    parts.push_back(std::move(s));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace

bool WorkerMatches(const LiveWorker& worker, const PendingGroup& job) {
  return (job.device_kind.empty() || job.device_kind == worker.device_kind) &&
         job.min_memory_mb <= worker.device_memory_mb;
}

std::string ExplainPending(const std::vector<PendingGroup>& pending,
                           const std::vector<LiveWorker>& live) {
  int total = 0;
  for (const auto& g : pending) total += g.count;
  if (total == 0) return "";
  if (live.empty()) return absl::StrCat(Jobs(total), "; no live workers");
  std::vector<std::string> unmatched;
  for (const auto& g : pending) {
    if (g.count == 0) continue;
    bool matched = false;
    for (const auto& w : live) matched = matched || WorkerMatches(w, g);
    if (!matched) unmatched.push_back(absl::StrCat(Jobs(g.count), " need ", Requirement(g)));
  }
  if (unmatched.empty()) return "";
  return absl::StrCat(absl::StrJoin(unmatched, "; "), "; live workers: ", DescribeWorkers(live));
}

}  // namespace moe4::coordinator
