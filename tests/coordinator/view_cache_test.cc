// ViewCache: fresh answers from memory, stale ones served while the refresher
// recomputes them, scopes, single flight, errors never kept, bounds. No
// database: the computations are counters the tests control. Waits are on
// observable conditions (a deadline, never a fixed sleep for ordering).
#include "coordinator/http/view_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace moe4::coordinator {
namespace {

// Polls `done` for up to 10 s.
bool WaitFor(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return done();
}

// A computation whose answer is "v<N>" where N counts its calls.
struct Counter {
  std::atomic<int> calls{0};
  std::atomic<int> status{200};
  ViewCache::Compute fn() {
    return [this] {
      const int n = ++calls;
      HttpResponse r;
      r.status = status.load();
      r.body = absl::StrCat("v", n);
      return r;
    };
  }
};

std::string Header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

Change CampaignChange(int64_t id) {
  Change c;
  c.kind = Change::Kind::kCampaign;
  c.campaign_id = id;
  return c;
}

ViewCacheOptions LongLived() {
  ViewCacheOptions o;
  o.max_age = absl::Hours(1);                 // only notifications make answers stale
  o.serve_stale_over = absl::ZeroDuration();  // the counters cost nothing: treat them as costly
  return o;
}

TEST(ViewCacheTest, AFreshAnswerIsComputedOnce) {
  ViewCache cache(LongLived());
  Counter c;
  EXPECT_EQ(cache.Get("k", ViewScope::Campaign(1), c.fn()).body, "v1");
  EXPECT_EQ(cache.Get("k", ViewScope::Campaign(1), c.fn()).body, "v1");
  EXPECT_EQ(c.calls.load(), 1);
  EXPECT_EQ(cache.stats().hits, 1);
  EXPECT_EQ(cache.stats().computed, 1);
}

TEST(ViewCacheTest, ANotifiedAnswerIsServedStaleThenRefreshedInTheBackground) {
  std::atomic<int> refreshed_scopes{0};
  ViewCache cache(LongLived(), [&](const ViewScope& s) {
    if (s.kind == ViewScope::Kind::kCampaign && s.campaign_id == 1) ++refreshed_scopes;
  });
  Counter c;
  ASSERT_EQ(cache.Get("k", ViewScope::Campaign(1), c.fn()).body, "v1");
  cache.OnChange(CampaignChange(1));
  // Read within the hot window: the refresher starts at once; a read
  // meanwhile gets the old answer marked stale, or already the new one.
  const HttpResponse during = cache.Get("k", ViewScope::Campaign(1), c.fn());
  if (during.body == "v1") {
    EXPECT_NE(Header(during, "X-Moe4-Stale-Ms"), "");
  }
  ASSERT_TRUE(WaitFor([&] { return c.calls.load() == 2; }));
  ASSERT_TRUE(WaitFor([&] { return refreshed_scopes.load() == 1; })) << "a changed answer is announced";
  const HttpResponse after = cache.Get("k", ViewScope::Campaign(1), c.fn());
  EXPECT_EQ(after.body, "v2");
  EXPECT_EQ(Header(after, "X-Moe4-Stale-Ms"), "");
  EXPECT_EQ(c.calls.load(), 2) << "the reader never computed it itself";
}

TEST(ViewCacheTest, ScopesDecideWhatANotificationTouches) {
  ViewCache cache(LongLived());
  Counter one, two, list, fleet;
  cache.Get("one", ViewScope::Campaign(1), one.fn());
  cache.Get("two", ViewScope::Campaign(2), two.fn());
  cache.Get("list", ViewScope::CampaignList(), list.fn());
  cache.Get("fleet", ViewScope::Fleet(), fleet.fn());

  cache.OnChange(CampaignChange(1));  // campaign 1 and the list
  ASSERT_TRUE(WaitFor([&] { return one.calls.load() == 2 && list.calls.load() == 2; }));
  Change workers;
  workers.kind = Change::Kind::kWorkers;
  cache.OnChange(workers);  // the fleet only
  ASSERT_TRUE(WaitFor([&] { return fleet.calls.load() == 2; }));
  EXPECT_EQ(two.calls.load(), 1);
  EXPECT_EQ(cache.Get("two", ViewScope::Campaign(2), two.fn()).body, "v1");
  EXPECT_EQ(one.calls.load(), 2);

  cache.OnChange(Change{});  // a reconnect: everything
  ASSERT_TRUE(WaitFor([&] {
    return one.calls.load() == 3 && two.calls.load() == 2 && list.calls.load() == 3 && fleet.calls.load() == 3;
  }));
}

TEST(ViewCacheTest, AgeAloneMakesAnAnswerStale) {
  ViewCacheOptions o = LongLived();
  o.max_age = absl::Milliseconds(20);
  ViewCache cache(o);
  Counter c;
  cache.Get("k", ViewScope::Campaign(1), c.fn());
  // No notification: reads keep coming, and past max_age one starts a refresh.
  ASSERT_TRUE(WaitFor([&] {
    cache.Get("k", ViewScope::Campaign(1), c.fn());
    return c.calls.load() >= 2;
  }));
}

TEST(ViewCacheTest, ConcurrentReadersOfAMissingAnswerShareOneComputation) {
  ViewCache cache(LongLived());
  std::mutex gate;
  gate.lock();  // held until every reader has arrived
  std::atomic<int> calls{0};
  auto slow = [&] {
    ++calls;
    std::lock_guard<std::mutex> wait(gate);
    HttpResponse r;
    r.body = "answer";
    return r;
  };
  std::vector<std::thread> readers;
  std::atomic<int> right{0};
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&] {
      if (cache.Get("k", ViewScope::Campaign(1), slow).body == "answer") ++right;
    });
  }
  ASSERT_TRUE(WaitFor([&] { return calls.load() == 1; }));
  absl::SleepFor(absl::Milliseconds(50));  // let the others queue up behind it (not needed for correctness)
  gate.unlock();
  for (auto& t : readers) t.join();
  EXPECT_EQ(right.load(), 8);
  EXPECT_EQ(calls.load(), 1);
}

TEST(ViewCacheTest, ErrorsAreNeverKept) {
  ViewCache cache(LongLived());
  Counter c;
  c.status = 503;
  EXPECT_EQ(cache.Get("k", ViewScope::Campaign(1), c.fn()).status, 503);
  c.status = 200;
  EXPECT_EQ(cache.Get("k", ViewScope::Campaign(1), c.fn()).body, "v2");
  EXPECT_EQ(cache.Get("k", ViewScope::Campaign(1), c.fn()).body, "v2");
  EXPECT_EQ(c.calls.load(), 2);
}

TEST(ViewCacheTest, AFailedRefreshKeepsServingTheLastGoodAnswer) {
  ViewCache cache(LongLived());
  Counter c;
  cache.Get("k", ViewScope::Campaign(1), c.fn());
  c.status = 503;  // the database went away
  cache.OnChange(CampaignChange(1));
  ASSERT_TRUE(WaitFor([&] { return c.calls.load() == 2; }));
  const HttpResponse r = cache.Get("k", ViewScope::Campaign(1), c.fn());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "v1");
  EXPECT_NE(Header(r, "X-Moe4-Stale-Ms"), "");
}

TEST(ViewCacheTest, AnswersOlderThanMaxStaleAreRecomputedByTheReader) {
  ViewCacheOptions o = LongLived();
  o.max_age = absl::ZeroDuration();
  o.max_stale = absl::ZeroDuration();
  ViewCache cache(o);
  Counter c;
  EXPECT_EQ(cache.Get("k", ViewScope::Campaign(1), c.fn()).body, "v1");
  const HttpResponse r = cache.Get("k", ViewScope::Campaign(1), c.fn());
  EXPECT_EQ(r.body, "v2");
  EXPECT_EQ(Header(r, "X-Moe4-Stale-Ms"), "");
  EXPECT_EQ(cache.stats().computed, 2);
}

// A stale answer that is quick to recompute (a small campaign) is never
// served: the reader computes it, and sees the latest state.
TEST(ViewCacheTest, CheapAnswersAreRecomputedByTheReader) {
  ViewCacheOptions o;
  o.max_age = absl::Hours(1);
  o.serve_stale_over = absl::Seconds(10);
  ViewCache cache(o);
  Counter c;
  cache.Get("k", ViewScope::Campaign(1), c.fn());
  cache.OnChange(CampaignChange(1));
  const HttpResponse r = cache.Get("k", ViewScope::Campaign(1), c.fn());
  EXPECT_EQ(r.body, "v2");
  EXPECT_EQ(Header(r, "X-Moe4-Stale-Ms"), "");
  EXPECT_EQ(cache.stats().stale_hits, 0);
}

// Invalidate (a change made through the dashboard) drops the scope's answers,
// however costly: the next read computes.
TEST(ViewCacheTest, InvalidateDropsTheScopesAnswers) {
  ViewCache cache(LongLived());
  Counter one, two, list;
  cache.Get("one", ViewScope::Campaign(1), one.fn());
  cache.Get("two", ViewScope::Campaign(2), two.fn());
  cache.Get("list", ViewScope::CampaignList(), list.fn());
  cache.Invalidate(CampaignChange(1));
  EXPECT_EQ(cache.Get("one", ViewScope::Campaign(1), one.fn()).body, "v2");
  EXPECT_EQ(cache.Get("list", ViewScope::CampaignList(), list.fn()).body, "v2");
  EXPECT_EQ(cache.Get("two", ViewScope::Campaign(2), two.fn()).body, "v1");
}

TEST(ViewCacheTest, AnUnchangedRefreshIsNotAnnounced) {
  std::atomic<int> announced{0};
  ViewCache cache(LongLived(), [&](const ViewScope&) { ++announced; });
  std::atomic<int> calls{0};
  auto same = [&] {
    ++calls;
    HttpResponse r;
    r.body = "same";
    return r;
  };
  cache.Get("k", ViewScope::Campaign(1), same);
  cache.OnChange(CampaignChange(1));
  ASSERT_TRUE(WaitFor([&] { return calls.load() == 2; }));
  cache.Stop();  // the refresher has returned: its callback has run if it was going to
  EXPECT_EQ(announced.load(), 0);
}

TEST(ViewCacheTest, RefreshesOfOneAnswerAreSpacedByItsCost) {
  ViewCacheOptions o = LongLived();
  o.refresh_spacing = 2.0;
  ViewCache cache(o);
  std::mutex mu;
  std::vector<absl::Time> starts;
  auto costly = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      starts.push_back(absl::Now());
    }
    absl::SleepFor(absl::Milliseconds(100));  // the computation's cost
    HttpResponse r;
    r.body = absl::StrCat(starts.size());
    return r;
  };
  cache.Get("k", ViewScope::Campaign(1), costly);
  cache.OnChange(CampaignChange(1));  // due 2 x 100 ms after the first computation ended
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return starts.size() == 2;
  }));
  cache.OnChange(CampaignChange(1));  // while refresh 2 may still run: queued after it
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return starts.size() == 3;
  }));
  std::lock_guard<std::mutex> lock(mu);
  // Each refresh waits 2 x 100 ms after the previous computation finished:
  // starts are at least 300 ms apart (a lower bound, so load cannot break it).
  EXPECT_GE(starts[1] - starts[0], absl::Milliseconds(290));
  EXPECT_GE(starts[2] - starts[1], absl::Milliseconds(290));
}

TEST(ViewCacheTest, EntriesAreBoundedLeastRecentlyReadFirst) {
  ViewCacheOptions o = LongLived();
  o.max_entries = 2;
  ViewCache cache(o);
  Counter a, b, c;
  cache.Get("a", ViewScope::Campaign(1), a.fn());
  absl::SleepFor(absl::Milliseconds(2));  // distinct read times
  cache.Get("b", ViewScope::Campaign(1), b.fn());
  absl::SleepFor(absl::Milliseconds(2));
  cache.Get("a", ViewScope::Campaign(1), a.fn());  // a is now the most recent
  absl::SleepFor(absl::Milliseconds(2));
  cache.Get("c", ViewScope::Campaign(1), c.fn());  // evicts b
  EXPECT_EQ(cache.stats().entries, 2u);
  cache.Get("a", ViewScope::Campaign(1), a.fn());
  EXPECT_EQ(a.calls.load(), 1);
  cache.Get("b", ViewScope::Campaign(1), b.fn());
  EXPECT_EQ(b.calls.load(), 2) << "b was dropped and computed again";
}

TEST(ViewCacheTest, StoppedCacheStillAnswers) {
  ViewCache cache(LongLived());
  cache.Stop();
  Counter c;
  EXPECT_EQ(cache.Get("k", ViewScope::Campaign(1), c.fn()).body, "v1");
  cache.OnChange(CampaignChange(1));
  // No refresher: a stale answer is computed by the reader.
  EXPECT_EQ(cache.Get("k", ViewScope::Campaign(1), c.fn()).body, "v2");
}

}  // namespace
}  // namespace moe4::coordinator
