#include "coordinator/reaper/lease_reaper.h"

#include <boost/asio/post.hpp>

#include "spdlog/spdlog.h"

namespace moe4::coordinator {

LeaseReaper::LeaseReaper(JobStore& store, Metrics& metrics, absl::Duration interval,
                         absl::Duration grace)
    : store_(store), metrics_(metrics), interval_(interval), grace_(grace), io_(1), timer_(io_) {}

LeaseReaper::~LeaseReaper() { Stop(); }

void LeaseReaper::Start() {
  if (thread_.joinable()) return;
  GrantGrace("coordinator start");
  Arm();
  thread_ = std::thread([this] { io_.run(); });
}

void LeaseReaper::Stop() {
  if (!thread_.joinable()) return;
  boost::asio::post(io_, [this] {
    timer_.cancel();
    io_.stop();
  });
  thread_.join();
}

void LeaseReaper::Arm() {
  timer_.expires_after(absl::ToChronoMilliseconds(interval_));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled by Stop
    Sweep();
    Arm();
  });
}

bool LeaseReaper::GrantGrace(const char* why) {
  absl::StatusOr<int> n = store_.ExtendHeldLeases(grace_);
  if (!n.ok()) {
    if (last_ok_) spdlog::warn("lease reaper: {}", n.status().ToString());
    last_ok_ = false;
    grace_owed_ = true;
    return false;
  }
  grace_owed_ = false;
  if (*n > 0) {
    spdlog::info("lease reaper: {} held lease(s) given {}s of grace after {}", *n,
                 absl::ToInt64Seconds(grace_), why);
  }
  return true;
}

void LeaseReaper::Sweep() {
  if (grace_owed_ && !GrantGrace("the database was unreachable")) return;
  absl::StatusOr<ReapResult> r = store_.Reap();
  if (!r.ok()) {
    if (last_ok_) spdlog::warn("lease reaper: {}", r.status().ToString());
    last_ok_ = false;
    grace_owed_ = true;  // workers could not heartbeat either
    return;
  }
  if (!last_ok_) spdlog::info("lease reaper: database reachable again");
  last_ok_ = true;
  metrics_.AddLeasesExpired(r->requeued + r->failed);
  metrics_.AddJobsTimedOut(r->timed_out);
}

}  // namespace moe4::coordinator
