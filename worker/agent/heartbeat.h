// Heartbeats for the job in flight, on a Boost.Asio steady_timer running on
// its own thread, independent of training (a slow batch never delays one).
// Each reply may ask to stop the job (saying why: paused, cancelled, timed
// out); a FAILED_PRECONDITION or NOT_FOUND
// reply means this attempt was fenced. Both are exposed as flags that the
// trainer's stop hook polls before every batch. Start/Stop are called by the
// agent thread; SetProgress and the flags are safe from any thread.
#ifndef MOE4_WORKER_AGENT_HEARTBEAT_H_
#define MOE4_WORKER_AGENT_HEARTBEAT_H_

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "worker/agent/coordinator_client.h"

namespace moe4::worker {

class Heartbeater {
 public:
  Heartbeater(CoordinatorClient& client, int64_t worker_id, int64_t job_id, int32_t attempt,
              std::chrono::milliseconds interval);
  ~Heartbeater();  // stops the thread
  Heartbeater(const Heartbeater&) = delete;
  Heartbeater& operator=(const Heartbeater&) = delete;

  void Stop();
  void SetProgress(int32_t epoch, int64_t step) {
    epoch_.store(epoch);
    step_.store(step);
  }
  bool cancel_requested() const { return cancel_.load(); }
  // Why the coordinator asked to stop; meaningful once cancel_requested().
  moe4::v1::StopReason coordinator_stop_reason() const {
    return static_cast<moe4::v1::StopReason>(stop_reason_.load());
  }
  bool fenced() const { return fenced_.load(); }
  int64_t sent() const { return sent_.load(); }

 private:
  void Arm();
  void Beat();

  CoordinatorClient& client_;
  const int64_t worker_id_;
  const int64_t job_id_;
  const int32_t attempt_;
  const std::chrono::milliseconds interval_;
  std::atomic<int32_t> epoch_{0};
  std::atomic<int64_t> step_{0};
  std::atomic<int> stop_reason_{moe4::v1::STOP_REASON_UNSPECIFIED};  // set before cancel_
  std::atomic<bool> cancel_{false};
  std::atomic<bool> fenced_{false};
  std::atomic<int64_t> sent_{0};
  boost::asio::io_context io_;
  boost::asio::steady_timer timer_;
  std::thread thread_;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_AGENT_HEARTBEAT_H_
