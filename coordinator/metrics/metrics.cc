#include "coordinator/metrics/metrics.h"

#include <utility>
#include <vector>

#include "prometheus/gauge.h"
#include "prometheus/text_serializer.h"

namespace moe4::coordinator {
namespace {

prometheus::Counter& OneCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      leases_granted_(OneCounter(*registry_, "moe4_leases_granted_total",
                                 "Jobs leased to workers by this coordinator.")),
      leases_expired_(OneCounter(*registry_, "moe4_leases_expired_total",
                                 "Leases this coordinator's reaper found expired (requeued or failed).")),
      jobs_timed_out_(OneCounter(*registry_, "moe4_jobs_timed_out_total",
                                 "Jobs failed for exceeding max_job_seconds.")),
      fenced_writes_(OneCounter(*registry_, "moe4_fenced_writes_total",
                                "Worker writes rejected because they came from a stale attempt.")),
      epoch_rows_(OneCounter(*registry_, "moe4_epoch_rows_written_total", "Epoch rows upserted.")),
      rpcs_(prometheus::BuildCounter()
                .Name("moe4_rpcs_total")
                .Help("Finished RPCs by method and status code.")
                .Register(*registry_)),
      latency_(prometheus::BuildHistogram()
                   .Name("moe4_rpc_duration_seconds")
                   .Help("RPC handling time by method.")
                   .Register(*registry_)),
      buckets_(kLatencyBuckets.begin(), kLatencyBuckets.end()) {}

void Metrics::ObserveRpc(absl::string_view method, absl::string_view code, double seconds) {
  // Family::Add returns the existing series for labels it has seen (the
  // boundaries only matter the first time).
  const std::string m(method);
  rpcs_.Add({{"method", m}, {"code", std::string(code)}}).Increment();
  latency_.Add({{"method", m}}, buckets_).Observe(seconds);
}

std::string Metrics::Render(const std::map<std::string, int64_t>* jobs_by_state,
                            bool db_up) const {
  // What the database said at this scrape: a registry of its own, so that a
  // scrape without the database has no moe4_jobs at all (rather than stale
  // counts) and concurrent scrapes share nothing mutable.
  prometheus::Registry scrape;
  prometheus::BuildGauge()
      .Name("moe4_database_up")
      .Help("1 when the database answered the last probe.")
      .Register(scrape)
      .Add({})
      .Set(db_up ? 1 : 0);
  if (jobs_by_state != nullptr) {
    auto& jobs = prometheus::BuildGauge()
                     .Name("moe4_jobs")
                     .Help("Jobs by state, over all campaigns.")
                     .Register(scrape);
    for (const char* state :
         {"pending", "leased", "running", "succeeded", "failed", "cancelled", "waiting", "stopped"}) {
      auto it = jobs_by_state->find(state);
      jobs.Add({{"state", state}}).Set(it == jobs_by_state->end() ? 0.0 : static_cast<double>(it->second));
    }
  }
  std::vector<prometheus::MetricFamily> families = scrape.Collect();
  for (prometheus::MetricFamily& f : registry_->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace moe4::coordinator
