#include "coordinator/http/view_cache.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace moe4::coordinator {

struct ViewCache::Entry {
  ViewScope scope;
  Compute compute;
  std::shared_ptr<const HttpResponse> answer;  // null until first computed
  uint64_t generation = 0;   // the scope's generation when `answer`'s computation started
  absl::Time started;        // ... and when it started
  absl::Time finished;
  absl::Duration took;       // how long it took
  absl::Time last_read;
  bool computing = false;    // a reader or the refresher is computing it now
  bool scheduled = false;    // waiting in due_
};

ViewCache::ViewCache(ViewCacheOptions options, Refreshed on_refreshed)
    : options_(options), on_refreshed_(std::move(on_refreshed)) {
  refresher_ = std::thread([this] { Refresher(); });
}

ViewCache::~ViewCache() { Stop(); }

void ViewCache::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

ViewCache::Stats ViewCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.entries = entries_.size();
  return s;
}

uint64_t ViewCache::GenerationLocked(const ViewScope& scope) const {
  switch (scope.kind) {
    case ViewScope::Kind::kCampaign: {
      auto it = campaign_generation_.find(scope.campaign_id);
      return everything_ + (it == campaign_generation_.end() ? 0 : it->second);
    }
    case ViewScope::Kind::kCampaignList: return everything_ + list_generation_;
    case ViewScope::Kind::kFleet: return everything_ + fleet_generation_;
  }
  return everything_;
}

bool ViewCache::StaleLocked(const Entry& e, absl::Time now) const {
  return e.generation != GenerationLocked(e.scope) || now - e.started >= options_.max_age;
}

void ViewCache::ScheduleLocked(const std::string& key, Entry& e, absl::Time now) {
  if (e.scheduled || e.computing || stop_) return;
  // Space recomputations of one answer by a multiple of what it costs.
  const absl::Time due = std::max(now, e.finished + e.took * options_.refresh_spacing);
  due_.emplace(due, key);
  e.scheduled = true;
  cv_.notify_all();
}

void ViewCache::RescheduleIfChangedLocked(const std::string& key, Entry& e, uint64_t computed_generation) {
  // A notification that arrived while this was computing found it busy.
  const absl::Time now = absl::Now();
  if (GenerationLocked(e.scope) != computed_generation && now - e.last_read <= options_.hot_window) {
    ScheduleLocked(key, e, now);
  }
}

void ViewCache::EvictLocked(absl::Time now) {
  std::vector<std::pair<absl::Time, std::string>> by_read;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = *it->second;
    if (!e.computing && now - e.last_read > options_.idle_drop) {
      it = entries_.erase(it);  // a due_ item for it finds nothing and is skipped
    } else {
      by_read.emplace_back(e.last_read, it->first);
      ++it;
    }
  }
  if (entries_.size() <= options_.max_entries) return;
  std::sort(by_read.begin(), by_read.end());
  for (size_t i = 0; i < by_read.size() && entries_.size() > options_.max_entries; ++i) {
    auto it = entries_.find(by_read[i].second);
    if (it != entries_.end() && !it->second->computing) entries_.erase(it);
  }
}

// Runs the entry's computation with the lock released and installs a 200
// answer with the generation current when it started.
HttpResponse ViewCache::ComputeUnlocked(std::unique_lock<std::mutex>& lock, Entry& e) {
  e.computing = true;
  const uint64_t generation = GenerationLocked(e.scope);
  const Compute fn = e.compute;
  lock.unlock();
  const absl::Time started = absl::Now();
  HttpResponse r = fn();
  const absl::Time finished = absl::Now();
  lock.lock();
  e.computing = false;
  if (r.status == 200) {
    e.answer = std::make_shared<const HttpResponse>(r);
    e.generation = generation;
    e.started = started;
    e.finished = finished;
    e.took = finished - started;
  }
  return r;
}

HttpResponse ViewCache::Get(const std::string& key, const ViewScope& scope, Compute compute) {
  std::unique_lock<std::mutex> lock(mu_);
  absl::Time now = absl::Now();
  std::shared_ptr<Entry> e = entries_[key];
  if (!e) {
    e = std::make_shared<Entry>();
    e->scope = scope;
    e->compute = std::move(compute);
    e->last_read = now;  // the newest: eviction takes it last
    entries_[key] = e;
    if (entries_.size() > options_.max_entries) {
      EvictLocked(now);
      entries_[key] = e;  // kept even if every older entry was busy
    }
  }
  e->last_read = now;
  if (e->answer) {
    const absl::Duration age = now - e->started;
    if (!StaleLocked(*e, now)) {
      ++stats_.hits;
      return *e->answer;
    }
    if (age < options_.max_stale && e->took >= options_.serve_stale_over && !stop_) {
      ++stats_.stale_hits;
      ScheduleLocked(key, *e, now);
      HttpResponse r = *e->answer;
      r.headers.emplace_back("X-Moe4-Stale-Ms", absl::StrCat(absl::ToInt64Milliseconds(age)));
      return r;
    }
  }
  // Single flight: wait for a computation in flight, take it if recent enough.
  if (e->computing) {
    computed_.wait(lock, [&] { return !e->computing; });
    now = absl::Now();
    if (e->answer && now - e->started < options_.max_stale) {
      ++stats_.hits;
      return *e->answer;
    }
  }
  const uint64_t generation = GenerationLocked(e->scope);
  HttpResponse r = ComputeUnlocked(lock, *e);
  ++stats_.computed;
  computed_.notify_all();
  RescheduleIfChangedLocked(key, *e, generation);
  return r;
}

bool ViewCache::Affects(const Change& change, const ViewScope& scope) {
  switch (change.kind) {
    case Change::Kind::kEverything: return true;
    case Change::Kind::kWorkers: return scope.kind == ViewScope::Kind::kFleet;
    case Change::Kind::kCampaign:
      return scope.kind == ViewScope::Kind::kCampaignList ||
             (scope.kind == ViewScope::Kind::kCampaign && scope.campaign_id == change.campaign_id);
  }
  return true;
}

void ViewCache::BumpLocked(const Change& change) {
  switch (change.kind) {
    case Change::Kind::kCampaign:
      ++campaign_generation_[change.campaign_id];
      ++list_generation_;
      break;
    case Change::Kind::kWorkers: ++fleet_generation_; break;
    case Change::Kind::kEverything: ++everything_; break;
  }
}

void ViewCache::OnChange(const Change& change) {
  std::lock_guard<std::mutex> lock(mu_);
  BumpLocked(change);
  // Refresh what someone is looking at before they ask again.
  const absl::Time now = absl::Now();
  for (auto& [key, e] : entries_) {
    if (e->answer && now - e->last_read <= options_.hot_window && Affects(change, e->scope)) {
      ScheduleLocked(key, *e, now);
    }
  }
}

void ViewCache::Invalidate(const Change& change) {
  std::lock_guard<std::mutex> lock(mu_);
  BumpLocked(change);  // a computation in flight installs into a dropped entry
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = Affects(change, it->second->scope) ? entries_.erase(it) : std::next(it);
  }
}

void ViewCache::Refresher() {
  std::unique_lock<std::mutex> lock(mu_);
  absl::Time next_evict = absl::Now() + absl::Seconds(10);
  while (!stop_) {
    absl::Time now = absl::Now();
    if (now >= next_evict) {
      EvictLocked(now);
      next_evict = now + absl::Seconds(10);
    }
    absl::Time wake = next_evict;
    if (!due_.empty()) wake = std::min(wake, due_.begin()->first);
    if (wake > now) {
      cv_.wait_for(lock, absl::ToChronoNanoseconds(wake - now));
      continue;
    }
    const std::string key = due_.begin()->second;
    due_.erase(due_.begin());
    auto it = entries_.find(key);
    if (it == entries_.end()) continue;  // dropped meanwhile
    std::shared_ptr<Entry> e = it->second;
    e->scheduled = false;
    if (e->computing || !StaleLocked(*e, now)) continue;
    const uint64_t generation = GenerationLocked(e->scope);
    const std::shared_ptr<const HttpResponse> old = e->answer;
    const HttpResponse r = ComputeUnlocked(lock, *e);
    ++stats_.refreshed;
    const bool changed = r.status == 200 && (!old || old->body != r.body);
    computed_.notify_all();
    RescheduleIfChangedLocked(key, *e, generation);
    if (changed && on_refreshed_) {
      const ViewScope scope = e->scope;
      lock.unlock();
      on_refreshed_(scope);
      lock.lock();
    }
  }
}

}  // namespace moe4::coordinator
