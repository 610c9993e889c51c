// What one worker daemon exposes on /metrics (moe4-worker --http-listen):
// jobs running, completed, failed and abandoned, epochs trained and the
// images/s of the last one, the device memory registered, reserved by
// running jobs and free, and RPC retries; all in a prometheus-cpp registry
// that MetricsEndpoint serves (or Render() prints).
//
// Kept free of LibTorch (a LibTorch translation unit costs 15-20 s to
// compile): the agent hands it plain numbers. Jobs run in trainer processes
// by default, but their epochs reach the daemon's hooks, so the daemon is
// the one place that counts.
//
// Safe for concurrent use: prometheus-cpp's counters and gauges are atomics
// and its families lock internally.
#ifndef MOE4_WORKER_AGENT_WORKER_METRICS_H_
#define MOE4_WORKER_AGENT_WORKER_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace moe4::worker {

class WorkerMetrics {
 public:
  // `worker` and `device` ("box3-cuda0", "cuda:0") label moe4_worker_info,
  // so that a dashboard can join a scrape target to the coordinator's name.
  WorkerMetrics(const std::string& worker, const std::string& device);
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // A leased job began (JobStarted) or is over, however it ended (JobEnded).
  void JobStarted() { jobs_running_.Increment(); }
  void JobEnded() { jobs_running_.Decrement(); }
  // How an attempt ended, as reported to the coordinator (abandoned: nothing
  // reported, another attempt owns the job or the coordinator stopped it).
  void JobCompleted() { jobs_completed_.Increment(); }
  void JobFailed(bool retryable) { (retryable ? jobs_failed_retryable_ : jobs_failed_final_).Increment(); }
  void JobAbandoned() { jobs_abandoned_.Increment(); }
  // One epoch trained; its throughput becomes the images/s gauge.
  void EpochTrained(double images_per_second);
  // Device memory in MiB (exposed in bytes): what the daemon registered as
  // the device's (after --device-memory-mb), what running jobs reserve, and
  // what the driver (a GPU) or /proc/meminfo (the CPU) says is free; a free
  // figure <= 0 means unknown and leaves the gauge as it was.
  void SetDeviceMemoryRegisteredMb(int64_t mb);
  void SetDeviceMemoryReservedMb(int64_t mb);
  void SetDeviceMemoryFreeMb(int64_t mb);
  // A call that failed transiently and is tried again (`method` like
  // "ReportEpochs").
  void RpcRetried(std::string_view method);

  // For MetricsEndpoint; the registry lives as long as this object.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  // The exposition text, as /metrics serves it (less the endpoint's own
  // exposer_* metrics).
  std::string Render() const;

  double jobs_running() const { return jobs_running_.Value(); }
  double epochs() const { return epochs_.Value(); }

 private:
  // Declared before the instruments: they live inside it.
  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge& jobs_running_;
  prometheus::Counter& jobs_completed_;
  prometheus::Counter& jobs_failed_retryable_;
  prometheus::Counter& jobs_failed_final_;
  prometheus::Counter& jobs_abandoned_;
  prometheus::Counter& epochs_;
  prometheus::Gauge& images_per_second_;
  prometheus::Gauge& memory_registered_;
  prometheus::Gauge& memory_reserved_;
  prometheus::Gauge& memory_free_;
  prometheus::Family<prometheus::Counter>& rpc_retries_;  // label method
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_AGENT_WORKER_METRICS_H_
