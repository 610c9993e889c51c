#include "worker/agent/heartbeat.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "worker/agent/stop_reason.h"

namespace moe4::worker {

Heartbeater::Heartbeater(CoordinatorClient& client, int64_t worker_id, int64_t job_id, int32_t attempt,
                         std::chrono::milliseconds interval)
    : client_(client), worker_id_(worker_id), job_id_(job_id), attempt_(attempt), interval_(interval), timer_(io_) {
  Arm();
  thread_ = std::thread([this] { io_.run(); });
}

Heartbeater::~Heartbeater() { Stop(); }

void Heartbeater::Stop() {
  if (!thread_.joinable()) return;
  boost::asio::post(io_, [this] { timer_.cancel(); });
  io_.stop();
  thread_.join();
}

void Heartbeater::Arm() {
  timer_.expires_after(interval_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled
    Beat();
    Arm();
  });
}

void Heartbeater::Beat() {
  moe4::v1::HeartbeatRequest request;
  request.set_worker_id(worker_id_);
  request.set_job_id(job_id_);
  request.set_attempt(attempt_);
  request.set_epoch(epoch_.load());
  request.set_step(step_.load());
  moe4::v1::HeartbeatResponse response;
  const grpc::Status status = client_.Heartbeat(request, &response);
  sent_.fetch_add(1);
  if (status.ok()) {
    if (response.cancel()) {
      stop_reason_.store(response.stop_reason());
      if (!cancel_.exchange(true)) {
        spdlog::info("job {} attempt {}: coordinator asked to stop ({})", job_id_, attempt_,
                     StopReasonName(StopReasonFromProto(response.stop_reason())));
      }
    }
    return;
  }
  const auto code = status.error_code();
  if (code == grpc::StatusCode::FAILED_PRECONDITION || code == grpc::StatusCode::NOT_FOUND) {
    if (!fenced_.exchange(true)) {
      spdlog::warn("job {} attempt {}: heartbeat rejected ({}): attempt fenced", job_id_, attempt_,
                   status.error_message());
    }
    return;
  }
  // Transient: the lease may still be alive; keep training and keep trying.
  spdlog::warn("job {} attempt {}: heartbeat failed ({}: {}); will retry", job_id_, attempt_, static_cast<int>(code),
               status.error_message());
}

}  // namespace moe4::worker
