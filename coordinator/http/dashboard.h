// The live dashboard (--ui): a single-page app embedded in the binary and the
// read-only JSON API under /api/v1/ that it and scripts use, on the
// coordinator's HTTP listener (docs/dashboard.md, docs/openapi.yaml).
//
// Authentication: the gRPC tokens. A script sends `Authorization: Bearer
// <token>`; a browser signs in once (POST /api/v1/session) and gets an
// HttpOnly, SameSite=Strict session cookie. The admin token gives the admin
// role (pause/resume/cancel a campaign, which a cookie session must confirm
// with its CSRF token in the X-CSRF-Token header), the reader token the reader
// role (everything else); the worker token gets nothing here.
//
// Live updates: GET /api/v1/events is a Server-Sent Events stream. One
// feed thread (not one per client) publishes a "change" event whenever the
// database notifies a change (ChangeListener: a campaign, its jobs or epochs,
// a worker registering; a burst within `feed_coalesce` is one event naming
// the campaigns), and pages then re-read what they show. It also polls a
// change fingerprint while any stream is open, for what notifies nothing
// (heartbeat ages): every `feed_resync` while notifications arrive, every
// `feed_poll` while they do not (no listener, or the database is away).
//
// Answers that summarise a whole campaign (its summary, leaderboard,
// statistics, coverage, curves) and the campaign list come from a ViewCache
// refreshed by the same notifications, so they cost a lookup however large
// the campaign; a refreshed answer that changed is published as a "change"
// too. Pages of rows (jobs, events, workers) and single jobs are indexed
// reads, answered directly.
//
// Safe for concurrent use; Start/Stop from the owning thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "common/auth.h"
#include "coordinator/http/dashboard_queries.h"
#include "coordinator/http/http_server.h"
#include "coordinator/http/session_store.h"
#include "coordinator/http/view_cache.h"
#include "coordinator/store/change_listener.h"
#include "coordinator/store/job_store.h"

namespace moe4::coordinator {

struct DashboardOptions {
  std::string admin_token;                          // required
  std::string reader_token;                         // "" = no reader role
  std::string worker_token;                         // refused explicitly
  absl::Duration session_ttl = absl::Hours(12);     // cookie lifetime
  absl::Duration feed_poll = absl::Seconds(1);      // fingerprint poll without notifications
  absl::Duration feed_resync = absl::Seconds(1);    // ... and with them (epochs notify nothing)
  absl::Duration feed_coalesce = absl::Milliseconds(100);  // notifications folded into one event
  ViewCacheOptions cache;                           // the campaign summaries' cache
};

class Dashboard {
 public:
  // `listener` (null: poll only) must outlive the dashboard.
  Dashboard(JobStore& store, PgPool& pool, DashboardOptions options, ChangeListener* listener = nullptr);
  ~Dashboard();  // stops the feed

  // Adds "/", "/ui/..." and "/api/v1/..." routes. Before http.Start().
  void AddRoutes(HttpServer& http);
  // Starts the change feed publishing to `http`; Stop ends it. Idempotent.
  void Start(HttpServer& http);
  void Stop();

  // The API behind the routes, callable directly (tests).
  HttpResponse Api(const HttpRequest& req);

 private:
  struct Caller;  // who is asking, resolved from cookie or bearer token
  HttpResponse Session(const HttpRequest& req);
  HttpResponse Asset(const HttpRequest& req);
  HttpResponse Events(const HttpRequest& req);
  void Feed(HttpServer* http);
  void OnChange(const Change& change);
  void OnRefreshed(const ViewScope& scope);

  // GET answers (dashboard_views.cc), from validated parameters.
  HttpResponse CampaignsView(int limit, int64_t cursor, Role role);
  HttpResponse WorkersView(int limit, int64_t cursor);
  HttpResponse JobView(int64_t id);
  HttpResponse CampaignView(int64_t id, Role role);
  HttpResponse LeaderboardView(int64_t id, int top, bool by_final);
  HttpResponse FamiliesView(int64_t id);
  HttpResponse PairsView(int64_t id, int limit);
  HttpResponse CoverageView(int64_t id);
  HttpResponse EventsView(int64_t id, int limit);
  HttpResponse JobsView(int64_t id, const std::string& state, int64_t cursor, int limit);
  HttpResponse CurvesView(int64_t id, int top);

  JobStore& store_;
  DashboardQueries queries_;
  const DashboardOptions options_;
  SessionStore sessions_;
  ChangeListener* const listener_;
  int subscription_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  // Notified since the feed last published; guarded by mu_.
  std::set<int64_t> changed_campaigns_;
  bool changed_other_ = false;  // workers, or anything (a reconnect)
  std::thread feed_;
  // Last: its refresher calls OnRefreshed, so it stops before the rest goes.
  ViewCache cache_;
};

}  // namespace moe4::coordinator
