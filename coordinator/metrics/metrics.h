// Process-wide counters and RPC latency histograms of one coordinator, kept in
// a prometheus-cpp registry and rendered by its text serializer (Prometheus
// exposition format 0.0.4) for the /metrics route of the coordinator's own
// HTTP listener (coordinator_server.cc).
// Safe for concurrent use: prometheus-cpp's counters are atomics, and its
// families and histograms lock internally.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace moe4::coordinator {

class Metrics {
 public:
  // Upper bounds of the latency buckets, in seconds.
  static constexpr std::array<double, 12> kLatencyBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};

  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void AddLeasesGranted(int64_t n) { leases_granted_.Increment(static_cast<double>(n)); }
  void AddLeasesExpired(int64_t n) { leases_expired_.Increment(static_cast<double>(n)); }
  void AddJobsTimedOut(int64_t n) { jobs_timed_out_.Increment(static_cast<double>(n)); }
  void AddFencedWrites(int64_t n) { fenced_writes_.Increment(static_cast<double>(n)); }
  void AddEpochRows(int64_t n) { epoch_rows_.Increment(static_cast<double>(n)); }

  // One finished RPC: `method` like "WorkerService/Lease", `code` the gRPC
  // status code name ("OK", "FAILED_PRECONDITION").
  void ObserveRpc(absl::string_view method, absl::string_view code, double seconds);

  int64_t leases_granted() const { return static_cast<int64_t>(leases_granted_.Value()); }
  int64_t leases_expired() const { return static_cast<int64_t>(leases_expired_.Value()); }
  int64_t fenced_writes() const { return static_cast<int64_t>(fenced_writes_.Value()); }
  int64_t epoch_rows() const { return static_cast<int64_t>(epoch_rows_.Value()); }

  // The exposition text. `jobs_by_state` (from the database) is rendered as the
  // moe4_jobs gauge when given; `db_up` as moe4_database_up. Both are read at
  // scrape time, so they go into a registry of their own for this one call.
  std::string Render(const std::map<std::string, int64_t>* jobs_by_state, bool db_up) const;

 private:
  // Declared before the instruments: they live inside it.
  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter& leases_granted_;
  prometheus::Counter& leases_expired_;
  prometheus::Counter& jobs_timed_out_;
  prometheus::Counter& fenced_writes_;
  prometheus::Counter& epoch_rows_;
  prometheus::Family<prometheus::Counter>& rpcs_;          // labels method, code
  prometheus::Family<prometheus::Histogram>& latency_;     // label method
  const prometheus::Histogram::BucketBoundaries buckets_;  // kLatencyBuckets
};

}  // namespace moe4::coordinator
