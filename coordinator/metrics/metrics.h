// Process-wide counters and RPC latency histograms of one coordinator, and
// their rendering in the Prometheus text exposition format (version 0.0.4).
// Safe for concurrent use: counters are atomics, histograms sit behind mu_.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/base/thread_annotations.h"

namespace moe4::coordinator {

class Metrics {
 public:
  // Upper bounds of the latency buckets, in seconds.
  static constexpr std::array<double, 12> kLatencyBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};

  void AddLeasesGranted(int64_t n) { leases_granted_ += n; }
  void AddLeasesExpired(int64_t n) { leases_expired_ += n; }
  void AddJobsTimedOut(int64_t n) { jobs_timed_out_ += n; }
  void AddFencedWrites(int64_t n) { fenced_writes_ += n; }
  void AddEpochRows(int64_t n) { epoch_rows_ += n; }

  // One finished RPC: `method` like "WorkerService/Lease", `code` the gRPC
  // status code name ("OK", "FAILED_PRECONDITION").
  void ObserveRpc(absl::string_view method, absl::string_view code, double seconds);

  int64_t leases_granted() const { return leases_granted_; }
  int64_t leases_expired() const { return leases_expired_; }
  int64_t fenced_writes() const { return fenced_writes_; }
  int64_t epoch_rows() const { return epoch_rows_; }

  // The exposition text. `jobs_by_state` (from the database) is rendered as the
  // moe4_jobs gauge when given; `db_up` as moe4_database_up.
  std::string Render(const std::map<std::string, int64_t>* jobs_by_state, bool db_up) const;

 private:
  struct Histogram {
    std::array<uint64_t, kLatencyBuckets.size()> buckets{};  // non-cumulative
    uint64_t count = 0;
    double sum = 0;
  };

  std::atomic<int64_t> leases_granted_{0};
  std::atomic<int64_t> leases_expired_{0};
  std::atomic<int64_t> jobs_timed_out_{0};
  std::atomic<int64_t> fenced_writes_{0};
  std::atomic<int64_t> epoch_rows_{0};

  mutable std::mutex mu_;
  std::map<std::string, Histogram, std::less<>> latency_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> rpcs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace moe4::coordinator
