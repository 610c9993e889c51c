#include "coordinator/metrics/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace moe4::coordinator {
namespace {

void Header(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void Counter(std::string* out, absl::string_view name, absl::string_view help, int64_t v) {
  Header(out, name, "counter", help);
  absl::StrAppend(out, name, " ", v, "\n");
}

std::string Num(double v) { return absl::StrFormat("%.9g", v); }

}  // namespace

void Metrics::ObserveRpc(absl::string_view method, absl::string_view code, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = latency_.find(method);
  if (it == latency_.end()) it = latency_.emplace(std::string(method), Histogram{}).first;
  Histogram& h = it->second;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      h.buckets[i]++;
      break;
    }
  }
  h.count++;
  h.sum += seconds;
  rpcs_[{std::string(method), std::string(code)}]++;
}

std::string Metrics::Render(const std::map<std::string, int64_t>* jobs_by_state,
                            bool db_up) const {
  std::string out;
  Header(&out, "moe4_database_up", "gauge", "1 when the database answered the last probe.");
  absl::StrAppend(&out, "moe4_database_up ", db_up ? 1 : 0, "\n");
  if (jobs_by_state != nullptr) {
    Header(&out, "moe4_jobs", "gauge", "Jobs by state, over all campaigns.");
    for (const char* state :
         {"pending", "leased", "running", "succeeded", "failed", "cancelled", "waiting", "stopped"}) {
      auto it = jobs_by_state->find(state);
      absl::StrAppend(&out, "moe4_jobs{state=\"", state, "\"} ",
                      it == jobs_by_state->end() ? 0 : it->second, "\n");
    }
  }
  Counter(&out, "moe4_leases_granted_total", "Jobs leased to workers by this coordinator.",
          leases_granted_);
  Counter(&out, "moe4_leases_expired_total",
          "Leases this coordinator's reaper found expired (requeued or failed).", leases_expired_);
  Counter(&out, "moe4_jobs_timed_out_total", "Jobs failed for exceeding max_job_seconds.",
          jobs_timed_out_);
  Counter(&out, "moe4_fenced_writes_total",
          "Worker writes rejected because they came from a stale attempt.", fenced_writes_);
  Counter(&out, "moe4_epoch_rows_written_total", "Epoch rows upserted.", epoch_rows_);

  std::lock_guard<std::mutex> lock(mu_);
  Header(&out, "moe4_rpcs_total", "counter", "Finished RPCs by method and status code.");
  for (const auto& [key, n] : rpcs_) {
    absl::StrAppend(&out, "moe4_rpcs_total{method=\"", key.first, "\",code=\"", key.second, "\"} ",
                    n, "\n");
  }
  Header(&out, "moe4_rpc_duration_seconds", "histogram", "RPC handling time by method.");
  for (const auto& [method, h] : latency_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      absl::StrAppend(&out, "moe4_rpc_duration_seconds_bucket{method=\"", method, "\",le=\"",
                      Num(kLatencyBuckets[i]), "\"} ", cumulative, "\n");
    }
    absl::StrAppend(&out, "moe4_rpc_duration_seconds_bucket{method=\"", method,
                    "\",le=\"+Inf\"} ", h.count, "\n");
    absl::StrAppend(&out, "moe4_rpc_duration_seconds_sum{method=\"", method, "\"} ", Num(h.sum),
                    "\n");
    absl::StrAppend(&out, "moe4_rpc_duration_seconds_count{method=\"", method, "\"} ", h.count,
                    "\n");
  }
  return out;
}

}  // namespace moe4::coordinator
