// ChangeListener: one LISTEN connection that turns the database's change
// notifications (migration 014: NOTIFY moe4_change) into calls to its
// subscribers, so that Watch streams and the dashboard's live feed re-read a
// campaign when it changed instead of polling for it.
//
// One thread owns the connection: it waits on the socket (and on a wake-up
// pipe for Stop), reads what arrived and calls every subscriber with a typed
// Change. While the database is away it reconnects with doubling back-off;
// after every (re)connect it reports Change::Kind::kEverything, because
// notifications sent while nobody listened are gone. Subscribers are called
// on the listener thread, one at a time, and must return quickly (mark and
// signal, never query). Subscribe/Unsubscribe/Start/Stop are thread-safe;
// Unsubscribe returns only when the callback is no longer running.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace moe4::coordinator {

// What a notification says changed.
struct Change {
  enum class Kind {
    kCampaign,    // campaign_id: the campaign, one of its jobs or epochs
    kWorkers,     // the fleet: a worker registered
    kEverything,  // unknown: (re)connected, notifications may have been missed
  };
  Kind kind = Kind::kEverything;
  int64_t campaign_id = 0;  // kCampaign only

  // "campaign:<id>" | "workers"; anything else reads as kEverything (a newer
  // coordinator's payload must not be ignored by an older one).
  static Change Parse(absl::string_view payload);
};

struct ChangeListenerOptions {
  std::string conninfo;  // libpq conninfo or URI, as the pool's
  std::string channel = "moe4_change";
  absl::Duration reconnect_min = absl::Milliseconds(250);
  absl::Duration reconnect_max = absl::Seconds(10);
  // With no notification for this long the connection is pinged, so a
  // server that vanished without a reset is noticed (tcp_user_timeout).
  absl::Duration idle_ping = absl::Seconds(30);
};

class ChangeListener {
 public:
  using Callback = std::function<void(const Change&)>;

  explicit ChangeListener(ChangeListenerOptions options);
  ~ChangeListener();  // Stop()s
  ChangeListener(const ChangeListener&) = delete;
  ChangeListener& operator=(const ChangeListener&) = delete;

  void Start();
  void Stop();

  // Returns a handle for Unsubscribe.
  int Subscribe(Callback callback);
  void Unsubscribe(int handle);

  // Whether the LISTEN connection is up now (subscribers then need no fast
  // poll); and notifications received since Start (for tests and metrics).
  bool listening() const { return listening_.load(); }
  int64_t received() const { return received_.load(); }

 private:
  void Run();
  // One connection's life: LISTEN, dispatch until it fails or Stop.
  void Listen();
  void Dispatch(const Change& change);
  // Sleeps up to `d`; false when stopping.
  bool SleepUnlessStopped(absl::Duration d);

  const ChangeListenerOptions options_;
  std::string conninfo_;  // with connect and TCP deadlines
  int wake_[2] = {-1, -1};  // Stop writes to wake_[1]; the thread polls wake_[0]

  std::mutex mu_;  // guards subscribers_, next_handle_, thread_
  std::mutex dispatch_mu_;  // held while callbacks run: Unsubscribe waits on it
  std::map<int, Callback> subscribers_;
  int next_handle_ = 1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> listening_{false};
  std::atomic<int64_t> received_{0};
};

}  // namespace moe4::coordinator
