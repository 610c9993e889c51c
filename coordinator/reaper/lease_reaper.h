// LeaseReaper: a Boost.Asio steady_timer that calls JobStore::Reap every
// interval on its own io_context thread: expired leases are requeued with
// backoff (or failed after max_attempts), jobs past max_job_seconds are failed,
// finished campaigns are marked done. Every coordinator on a database runs one;
// SKIP LOCKED in the store keeps them from stepping on each other.
//
// Grace after an outage: when the reaper starts, and on its first good sweep
// after the database was unreachable, it first gives every held lease `grace`
// (the lease period) from now. Otherwise a coordinator or database outage
// longer than a lease would requeue every job whose worker was merely unable
// to heartbeat, throwing away work in progress. Grace is given once per
// silence of a worker (see JobStore::ExtendHeldLeases), so a crash-looping
// coordinator does not keep a dead worker's job leased.
// Start/Stop from one thread; the timer work runs on the reaper's own thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>

#include "absl/time/time.h"
#include "coordinator/metrics/metrics.h"
#include "coordinator/store/job_store.h"

namespace moe4::coordinator {

class LeaseReaper {
 public:
  // `store` and `metrics` must outlive the reaper.
  LeaseReaper(JobStore& store, Metrics& metrics, absl::Duration interval, absl::Duration grace);
  ~LeaseReaper();  // stops
  LeaseReaper(const LeaseReaper&) = delete;
  LeaseReaper& operator=(const LeaseReaper&) = delete;

  // Grants the start-up grace on the caller's thread, then starts the timer.
  void Start();
  void Stop();  // idempotent; waits for a sweep in progress

 private:
  void Arm();
  void Sweep();
  // False when the database could not be reached (grace is then owed).
  bool GrantGrace(const char* why);

  JobStore& store_;
  Metrics& metrics_;
  const absl::Duration interval_;
  const absl::Duration grace_;
  bool grace_owed_ = true;  // reaper thread only (and Start, before the thread)
  boost::asio::io_context io_;
  boost::asio::steady_timer timer_;  // touched only on the reaper thread after Start
  std::thread thread_;
  bool last_ok_ = true;  // reaper thread only: log a failure once, not every second
};

}  // namespace moe4::coordinator
