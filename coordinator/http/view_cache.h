// ViewCache: the dashboard API's expensive answers (a campaign's summary,
// leaderboard, statistics, coverage and curves; the campaign list), kept as
// rendered responses and refreshed in the background when the database says
// what they show changed. A read then costs a map lookup however large the
// campaign: with 100,000 jobs these answers take 0.2-1.5 s to compute and the
// API must answer in under 50 ms p99 (issue 18 item 6; docs/performance.md).
//
// Every entry belongs to a scope: one campaign (anything read from its jobs),
// the campaign list (any campaign), or the fleet (workers). A notification for
// a scope (ChangeListener: a campaign row, a job's state, attempt or rung, a
// worker registering; a reconnect means everything) makes its entries stale.
// Age does too: an entry is stale `max_age` after its computation started,
// because epoch progress and heartbeats notify nothing.
//
// Reading a key:
//  - fresh: returned as is;
//  - stale, younger than `max_stale`, and costly (its last computation took
//    `serve_stale_over` or more): returned at once, marked stale
//    (X-Moe4-Stale-Ms: its age), and recomputed by the refresher thread,
//    which then calls `on_refreshed` if the answer changed (the live feed
//    tells browsers to re-read);
//  - otherwise (missing, older than `max_stale`, or cheap to recompute):
//    computed by the caller, so small campaigns always read their latest
//    state; concurrent readers of the key wait for that one computation
//    (single flight).
// Invalidate() drops a scope's answers outright: after a change made through
// the dashboard itself, the next read computes (read-your-writes).
// Only 200 answers are kept: an error is recomputed on the next read.
//
// The refresher spaces an entry's recomputations at least `refresh_spacing`
// times its last computation time apart, so a large campaign under constant
// change costs a bounded share of the database, at the price of answers
// that age by up to about (1 + refresh_spacing) computation times. A
// notification also refreshes, ahead of the next read, the scope's entries
// read within `hot_window`. Entries not read for `idle_drop` are dropped;
// beyond `max_entries` the least recently read goes first.
//
// Thread-safe: Get, OnChange, Stop from any thread; one refresher thread
// (started by the constructor) runs the recomputations and `on_refreshed`.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "coordinator/http/http_server.h"
#include "coordinator/store/change_listener.h"

namespace moe4::coordinator {

struct ViewCacheOptions {
  absl::Duration max_age = absl::Seconds(1);        // stale after this even without a notification
  absl::Duration max_stale = absl::Seconds(30);     // older answers are never served
  absl::Duration serve_stale_over = absl::Milliseconds(50);  // cheaper answers are recomputed by the reader
  double refresh_spacing = 2.0;                     // x the last computation time between refreshes
  absl::Duration hot_window = absl::Seconds(30);    // notified entries read this recently refresh at once
  absl::Duration idle_drop = absl::Minutes(5);      // entries not read this long are dropped
  size_t max_entries = 4096;                        // then the least recently read go
};

// Which notifications make an entry stale.
struct ViewScope {
  enum class Kind { kCampaign, kCampaignList, kFleet };
  Kind kind = Kind::kCampaign;
  int64_t campaign_id = 0;  // kCampaign only

  static ViewScope Campaign(int64_t id) { return {Kind::kCampaign, id}; }
  static ViewScope CampaignList() { return {Kind::kCampaignList, 0}; }
  static ViewScope Fleet() { return {Kind::kFleet, 0}; }
};

class ViewCache {
 public:
  using Compute = std::function<HttpResponse()>;
  // Called on the refresher thread with the scope of an answer that changed.
  using Refreshed = std::function<void(const ViewScope&)>;

  explicit ViewCache(ViewCacheOptions options = {}, Refreshed on_refreshed = nullptr);
  ~ViewCache();  // Stop()s
  ViewCache(const ViewCache&) = delete;
  ViewCache& operator=(const ViewCache&) = delete;

  // The answer for `key` (which must name everything the answer depends on:
  // path, parameters, role), computed with `compute` when needed. `compute`
  // is kept for background refreshes: it must not capture the request.
  HttpResponse Get(const std::string& key, const ViewScope& scope, Compute compute);

  // A change notification (ChangeListener subscriber: marks and signals only).
  void OnChange(const Change& change);
  // A change this process made: the scope's answers are dropped.
  void Invalidate(const Change& change);

  // Ends the refresher; Get then computes every stale answer itself.
  void Stop();

  // For tests and metrics.
  struct Stats {
    int64_t hits = 0;         // fresh answers
    int64_t stale_hits = 0;   // stale answers served while refreshing
    int64_t computed = 0;     // computed by a reader
    int64_t refreshed = 0;    // recomputed by the refresher
    size_t entries = 0;
  };
  Stats stats() const;

 private:
  struct Entry;
  uint64_t GenerationLocked(const ViewScope& scope) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BumpLocked(const Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static bool Affects(const Change& change, const ViewScope& scope);
  bool StaleLocked(const Entry& e, absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleLocked(const std::string& key, Entry& e, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RescheduleIfChangedLocked(const std::string& key, Entry& e, uint64_t computed_generation)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  HttpResponse ComputeUnlocked(std::unique_lock<std::mutex>& lock, Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Refresher();

  const ViewCacheOptions options_;
  const Refreshed on_refreshed_;

  mutable std::mutex mu_;
  std::condition_variable cv_;        // refresher: work or stop
  std::condition_variable computed_;  // readers waiting for a first computation
  std::map<std::string, std::shared_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  std::multimap<absl::Time, std::string> due_ ABSL_GUARDED_BY(mu_);  // refreshes by due time
  // Generations: a scope's is the sum of `everything_` and its own counter.
  std::map<int64_t, uint64_t> campaign_generation_ ABSL_GUARDED_BY(mu_);
  uint64_t list_generation_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t fleet_generation_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t everything_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread refresher_;
};

}  // namespace moe4::coordinator
