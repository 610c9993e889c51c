#include "worker/agent/worker_metrics.h"

#include "prometheus/text_serializer.h"

namespace moe4::worker {
namespace {

constexpr double kBytesPerMb = 1024.0 * 1024.0;

prometheus::Gauge& OneGauge(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Counter& OneCounter(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Family<prometheus::Counter>& JobsFailed(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("moe4_worker_jobs_failed_total")
      .Help("Job attempts this worker reported failed, by whether the coordinator may retry them.")
      .Register(registry);
}

}  // namespace

WorkerMetrics::WorkerMetrics(const std::string& worker, const std::string& device)
    : registry_(std::make_shared<prometheus::Registry>()),
      jobs_running_(OneGauge(*registry_, "moe4_worker_jobs_running", "Jobs training on this worker now.")),
      jobs_completed_(OneCounter(*registry_, "moe4_worker_jobs_completed_total",
                                 "Job attempts this worker completed (the coordinator stored the result).")),
      jobs_failed_retryable_(JobsFailed(*registry_).Add({{"retryable", "true"}})),
      jobs_failed_final_(JobsFailed(*registry_).Add({{"retryable", "false"}})),
      jobs_abandoned_(OneCounter(*registry_, "moe4_worker_jobs_abandoned_total",
                                 "Job attempts dropped without a result: fenced by a newer attempt, or stopped "
                                 "by the coordinator (paused, cancelled, timed out).")),
      epochs_(OneCounter(*registry_, "moe4_worker_epochs_total", "Epochs trained by this worker's jobs.")),
      images_per_second_(OneGauge(*registry_, "moe4_worker_images_per_second",
                                  "Training throughput of the last epoch trained here (any job).")),
      memory_registered_(OneGauge(*registry_, "moe4_worker_device_memory_registered_bytes",
                                  "Device memory this worker registered (the device's, or --device-memory-mb).")),
      memory_reserved_(OneGauge(*registry_, "moe4_worker_device_memory_reserved_bytes",
                                "Device memory reserved by the jobs running here (what each is known to need).")),
      memory_free_(OneGauge(*registry_, "moe4_worker_device_memory_free_bytes",
                            "Device memory free at the last look (the driver's figure; MemAvailable for the CPU).")),
      rpc_retries_(prometheus::BuildCounter()
                       .Name("moe4_worker_rpc_retries_total")
                       .Help("Calls to the coordinator that failed transiently and were tried again, by method.")
                       .Register(*registry_)) {
  prometheus::BuildGauge()
      .Name("moe4_worker_info")
      .Help("Always 1; labels name this worker and its training device.")
      .Register(*registry_)
      .Add({{"worker", worker}, {"device", device}})
      .Set(1);
}

void WorkerMetrics::EpochTrained(double images_per_second) {
  epochs_.Increment();
  images_per_second_.Set(images_per_second);
}

void WorkerMetrics::SetDeviceMemoryRegisteredMb(int64_t mb) {
  memory_registered_.Set(static_cast<double>(mb) * kBytesPerMb);
}

void WorkerMetrics::SetDeviceMemoryReservedMb(int64_t mb) {
  memory_reserved_.Set(static_cast<double>(mb) * kBytesPerMb);
}

void WorkerMetrics::SetDeviceMemoryFreeMb(int64_t mb) {
  if (mb > 0) memory_free_.Set(static_cast<double>(mb) * kBytesPerMb);
}

void WorkerMetrics::RpcRetried(std::string_view method) {
  rpc_retries_.Add({{"method", std::string(method)}}).Increment();
}

std::string WorkerMetrics::Render() const { return prometheus::TextSerializer().Serialize(registry_->Collect()); }

}  // namespace moe4::worker
