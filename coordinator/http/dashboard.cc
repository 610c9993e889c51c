#include "coordinator/http/dashboard.h"

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "coordinator/http/api_json.h"
#include "coordinator/http/ui_assets.h"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {
namespace {

using api::Error;
using api::FromStatus;
using api::Json;
using api::json;

constexpr char kCookie[] = "moe4_session";
constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 500;
constexpr int64_t kMaxId = int64_t{1} << 53;  // ids the browser holds exactly

// ---- inputs -------------------------------------------------------------

// A positive id from a path segment or query value.
bool ParseId(const std::string& text, int64_t* id) {
  if (text.empty() || text.size() > 16 || !std::all_of(text.begin(), text.end(), ::isdigit)) return false;
  return absl::SimpleAtoi(text, id) && *id > 0 && *id < kMaxId;
}

// Query parameter `name` as an int in [lo, hi], `fallback` when absent.
bool IntParam(const HttpRequest& req, const char* name, int lo, int hi, int fallback, int* out,
              HttpResponse* error) {
  if (!req.HasQuery(name)) {
    *out = fallback;
    return true;
  }
  const std::string v = req.Query(name);
  if (v.size() > 10 || !absl::SimpleAtoi(v, out) || *out < lo || *out > hi) {
    *error = Error(400, absl::StrCat(name, ": expected an integer in [", lo, ", ", hi, "]"));
    return false;
  }
  return true;
}

// cursor: a non-negative id ("" or absent = from the start).
bool CursorParam(const HttpRequest& req, int64_t* out, HttpResponse* error) {
  *out = 0;
  const std::string v = req.Query("cursor");
  if (v.empty()) return true;
  if (!ParseId(v, out)) {
    *error = Error(400, "cursor: expected a value from next_cursor");
    return false;
  }
  return true;
}

const char* const kJobStates[] = {"pending", "leased",    "running", "succeeded",
                                  "failed",  "cancelled", "waiting", "stopped"};

}  // namespace

// ---- authentication ----------------------------------------------------------

struct Dashboard::Caller {
  bool known = false;
  Role role = Role::kReader;
  bool cookie = false;   // a browser session (CSRF applies)
  std::string csrf;      // the session's CSRF token
};

namespace {

// A cross-site request that got here anyway (an old browser without
// SameSite): its Origin names another host.
bool CrossOrigin(const HttpRequest& req) {
  const std::string origin = req.Header("origin");
  if (origin.empty()) return false;
  const size_t scheme = origin.find("://");
  const std::string host = scheme == std::string::npos ? origin : origin.substr(scheme + 3);
  return host != req.Header("host");
}

}  // namespace

Dashboard::Dashboard(JobStore& store, PgPool& pool, DashboardOptions options, ChangeListener* listener)
    : store_(store),
      queries_(pool),
      options_(std::move(options)),
      sessions_(options_.session_ttl),
      listener_(listener),
      cache_(options_.cache, [this](const ViewScope& scope) { OnRefreshed(scope); }) {}

Dashboard::~Dashboard() {
  Stop();
  cache_.Stop();
}

void Dashboard::AddRoutes(HttpServer& http) {
  http.Route("/", HttpServer::Mode::kInline, [this](const HttpRequest& r) { return Asset(r); });
  http.Route("/ui/", HttpServer::Mode::kInline, [this](const HttpRequest& r) { return Asset(r); });
  http.Route("/api/v1/", HttpServer::Mode::kBlocking, [this](const HttpRequest& r) { return Api(r); });
  // Streams are answered on the io thread: opening one must not wait behind
  // database calls.
  http.Route("/api/v1/events", HttpServer::Mode::kInline, [this](const HttpRequest& r) { return Events(r); });
}

HttpResponse Dashboard::Asset(const HttpRequest& req) {
  if (req.method != "GET" && req.method != "HEAD") return Error(405, "GET only");
  struct Entry {
    const char* path;
    const char* name;
    const char* type;
  };
  static constexpr Entry kEntries[] = {
      {"/", "index.html", "text/html; charset=utf-8"},
      {"/ui/app.js", "app.js", "text/javascript; charset=utf-8"},
      {"/ui/app.css", "app.css", "text/css; charset=utf-8"},
      {"/ui/chart.js", "chart.js", "text/javascript; charset=utf-8"},
  };
  for (const auto& e : kEntries) {
    if (req.path != e.path) continue;
    HttpResponse r;
    r.content_type = e.type;
    r.body = std::string(UiAsset(e.name));
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  }
  return HttpResponse::Text(404, "not found\n");
}

HttpResponse Dashboard::Events(const HttpRequest& req) {
  if (req.method != "GET") return Error(405, "GET only");
  // Resolving the caller touches no database: fine on the io thread.
  Caller caller;
  const std::string bearer(TokenFromBearer(req.Header("authorization")));
  if (!bearer.empty()) {
    const bool admin = TokensEqual(bearer, options_.admin_token);
    const bool reader = !options_.reader_token.empty() && TokensEqual(bearer, options_.reader_token);
    caller.known = admin || reader;
  } else if (auto s = sessions_.Find(req.Cookie(kCookie))) {
    caller.known = true;
  }
  if (!caller.known) return Error(401, "sign in first");
  HttpResponse r;
  r.event_stream = true;
  r.body = "retry: 3000\n\nevent: hello\ndata: {}\n\n";
  return r;
}

HttpResponse Dashboard::Session(const HttpRequest& req) {
  if (req.method == "POST") {
    if (req.Header("content-type").rfind("application/json", 0) != 0) {
      return Error(415, "send {\"token\": \"...\"} as application/json");
    }
    if (CrossOrigin(req)) return Error(403, "cross-origin sign-in refused");
    std::string token;
    try {
      const json body = json::parse(req.body);
      if (!body.is_object() || !body.contains("token") || !body["token"].is_string()) {
        return Error(400, "expected {\"token\": \"...\"}");
      }
      token = body["token"].get<std::string>();
    } catch (const json::exception&) {
      return Error(400, "expected {\"token\": \"...\"}");
    }
    // Every comparison runs, so timing does not say which token matched.
    const bool admin = TokensEqual(token, options_.admin_token);
    const bool reader = !options_.reader_token.empty() && TokensEqual(token, options_.reader_token);
    const bool worker = !options_.worker_token.empty() && TokensEqual(token, options_.worker_token);
    if (worker && !admin) return Error(403, "a worker token cannot sign in to the dashboard");
    if (!admin && !reader) return Error(401, "invalid token");
    const BrowserSession s = sessions_.Create(admin ? Role::kAdmin : Role::kReader);
    HttpResponse r = Json(200, json{{"role", RoleName(s.role)}, {"csrf", s.csrf}});
    r.headers.emplace_back("Set-Cookie", absl::StrCat(kCookie, "=", s.id, "; Path=/; HttpOnly; SameSite=Strict; Max-Age=",
                                                      absl::ToInt64Seconds(sessions_.ttl())));
    return r;
  }
  const std::string id = req.Cookie(kCookie);
  auto s = sessions_.Find(id);
  if (req.method == "GET") {
    if (!s) return Error(401, "not signed in");
    return Json(200, json{{"role", RoleName(s->role)}, {"csrf", s->csrf}});
  }
  if (req.method == "DELETE") {
    if (!s) return Error(401, "not signed in");
    if (!TokensEqual(req.Header("x-csrf-token"), s->csrf)) return Error(403, "missing or wrong X-CSRF-Token");
    sessions_.Erase(id);
    HttpResponse r = Json(200, json{{"signed_out", true}});
    r.headers.emplace_back("Set-Cookie", absl::StrCat(kCookie, "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
    return r;
  }
  return Error(405, "GET, POST or DELETE");
}

HttpResponse Dashboard::Api(const HttpRequest& req) {
  constexpr std::string_view kPrefix = "/api/v1/";
  if (req.path.size() > 200 || req.path.rfind(kPrefix, 0) != 0) return Error(404, "not found");
  const std::vector<std::string> seg = absl::StrSplit(req.path.substr(kPrefix.size()), '/');
  if (seg.size() == 1 && seg[0] == "session") return Session(req);

  // Who is asking: a bearer token (scripts) or a session cookie (browsers).
  Caller caller;
  const std::string bearer(TokenFromBearer(req.Header("authorization")));
  if (!bearer.empty()) {
    const bool admin = TokensEqual(bearer, options_.admin_token);
    const bool reader = !options_.reader_token.empty() && TokensEqual(bearer, options_.reader_token);
    if (admin || reader) {
      caller.known = true;
      caller.role = admin ? Role::kAdmin : Role::kReader;
    }
  } else if (auto s = sessions_.Find(req.Cookie(kCookie))) {
    caller.known = true;
    caller.cookie = true;
    caller.role = s->role;
    caller.csrf = s->csrf;
  }
  if (!caller.known) return Error(401, "sign in (POST /api/v1/session) or send Authorization: Bearer <token>");

  if (req.method == "POST") {
    // POST /campaigns/{id}/{pause|resume|cancel}
    int64_t id = 0;
    if (seg.size() != 3 || seg[0] != "campaigns" || !ParseId(seg[1], &id) ||
        (seg[2] != "pause" && seg[2] != "resume" && seg[2] != "cancel")) {
      return Error(404, "not found");
    }
    if (caller.role != Role::kAdmin) return Error(403, "only an admin may pause, resume or cancel");
    if (caller.cookie && (CrossOrigin(req) || !TokensEqual(req.Header("x-csrf-token"), caller.csrf))) {
      return Error(403, "missing or wrong X-CSRF-Token");
    }
    // The caller re-reads at once: its own change must not wait for the
    // notification to reach the cache.
    Change done;
    done.kind = Change::Kind::kCampaign;
    done.campaign_id = id;
    if (seg[2] == "cancel") {
      auto n = store_.CancelCampaign(id);
      cache_.Invalidate(done);
      if (!n.ok()) return FromStatus(n.status());
      spdlog::info("dashboard: campaign {} cancelled ({} jobs)", id, *n);
      return Json(200, json{{"campaign_id", id}, {"jobs_cancelled", *n}});
    }
    absl::Status s = seg[2] == "pause" ? store_.PauseCampaign(id) : store_.ResumeCampaign(id);
    cache_.Invalidate(done);
    if (!s.ok()) return FromStatus(s);
    spdlog::info("dashboard: campaign {} {}d", id, seg[2] == "pause" ? "pause" : "resume");
    return Json(200, json{{"campaign_id", id}, {"done", seg[2]}});
  }
  if (req.method != "GET" && req.method != "HEAD") return Error(405, "GET, or POST for actions");

  HttpResponse bad;
  int limit = 0;
  int64_t cursor = 0;
  const std::string role = RoleName(caller.role);

  // GET /campaigns?limit&cursor: newest first; cursor = the last id seen.
  if (seg.size() == 1 && seg[0] == "campaigns") {
    if (!IntParam(req, "limit", 1, kMaxLimit, kDefaultLimit, &limit, &bad) || !CursorParam(req, &cursor, &bad)) return bad;
    const Role r = caller.role;
    return cache_.Get(absl::StrCat("campaigns?limit=", limit, "&cursor=", cursor, "&role=", role),
                      ViewScope::CampaignList(), [this, limit, cursor, r] { return CampaignsView(limit, cursor, r); });
  }
  // GET /workers?limit&cursor: by worker id. Not cached: heartbeat ages
  // change every second and notify nothing; one page is one indexed query.
  if (seg.size() == 1 && seg[0] == "workers") {
    if (!IntParam(req, "limit", 1, kMaxLimit, kDefaultLimit, &limit, &bad) || !CursorParam(req, &cursor, &bad)) return bad;
    return WorkersView(limit, cursor);
  }
  // GET /jobs/{id}
  int64_t id = 0;
  if (seg.size() == 2 && seg[0] == "jobs") {
    if (!ParseId(seg[1], &id)) return Error(400, "job id: expected a positive integer");
    return JobView(id);
  }

  if (seg.size() < 2 || seg[0] != "campaigns") return Error(404, "not found");
  if (!ParseId(seg[1], &id)) return Error(400, "campaign id: expected a positive integer");
  // What summarises a whole campaign comes from the cache; pages of it
  // (events, jobs) are indexed reads and are not cached.
  const std::string key = absl::StrCat("campaigns/", id);
  const ViewScope scope = ViewScope::Campaign(id);

  // GET /campaigns/{id}
  if (seg.size() == 2) {
    const Role r = caller.role;
    return cache_.Get(absl::StrCat(key, "?role=", role), scope, [this, id, r] { return CampaignView(id, r); });
  }
  if (seg.size() != 3) return Error(404, "not found");
  const std::string& what = seg[2];

  if (what == "leaderboard") {
    int top = 0;
    if (!IntParam(req, "top", 1, 100, 20, &top, &bad)) return bad;
    const std::string by = req.HasQuery("by") ? req.Query("by") : "validation";
    if (by != "validation" && by != "final") {
      return Error(400, "by: validation or final (best would select on the test set)");
    }
    const bool by_final = by == "final";
    return cache_.Get(absl::StrCat(key, "/leaderboard?top=", top, "&by=", by), scope,
                      [this, id, top, by_final] { return LeaderboardView(id, top, by_final); });
  }
  if (what == "families") {
    return cache_.Get(absl::StrCat(key, "/families"), scope, [this, id] { return FamiliesView(id); });
  }
  if (what == "pairs") {
    if (!IntParam(req, "limit", 1, kMaxLimit, kDefaultLimit, &limit, &bad)) return bad;
    return cache_.Get(absl::StrCat(key, "/pairs?limit=", limit), scope,
                      [this, id, limit] { return PairsView(id, limit); });
  }
  if (what == "coverage") {
    return cache_.Get(absl::StrCat(key, "/coverage"), scope, [this, id] { return CoverageView(id); });
  }
  if (what == "curves") {
    int top = 0;
    if (!IntParam(req, "top", 1, 10, 5, &top, &bad)) return bad;
    return cache_.Get(absl::StrCat(key, "/curves?top=", top), scope, [this, id, top] { return CurvesView(id, top); });
  }
  if (what == "events") {
    if (!IntParam(req, "limit", 1, kMaxLimit, 20, &limit, &bad)) return bad;
    return EventsView(id, limit);
  }
  if (what == "jobs") {
    if (!IntParam(req, "limit", 1, kMaxLimit, kDefaultLimit, &limit, &bad) || !CursorParam(req, &cursor, &bad)) return bad;
    const std::string state = req.Query("state");
    if (!state.empty() && std::find(std::begin(kJobStates), std::end(kJobStates), state) == std::end(kJobStates)) {
      return Error(400, "state: pending, leased, running, succeeded, failed, cancelled, waiting or stopped");
    }
    return JobsView(id, state, cursor, limit);
  }
  return Error(404, "not found");
}

// ---- change feed ---------------------------------------------------------------

void Dashboard::Start(HttpServer& http) {
  std::lock_guard<std::mutex> lock(mu_);
  if (feed_.joinable()) return;
  stop_ = false;
  if (listener_ != nullptr) subscription_ = listener_->Subscribe([this](const Change& c) { OnChange(c); });
  feed_ = std::thread([this, &http] { Feed(&http); });
}

void Dashboard::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (feed_.joinable()) feed_.join();
  if (listener_ != nullptr && subscription_ != 0) {
    listener_->Unsubscribe(subscription_);
    subscription_ = 0;
  }
}

void Dashboard::OnChange(const Change& change) {
  cache_.OnChange(change);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (change.kind == Change::Kind::kCampaign) {
      changed_campaigns_.insert(change.campaign_id);
    } else {
      changed_other_ = true;
    }
  }
  cv_.notify_all();
}

// A cached answer was recomputed and differs: pages showing it re-read.
void Dashboard::OnRefreshed(const ViewScope& scope) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (scope.kind == ViewScope::Kind::kCampaign) {
      changed_campaigns_.insert(scope.campaign_id);
    } else {
      changed_other_ = true;
    }
  }
  cv_.notify_all();
}

void Dashboard::Feed(HttpServer* http) {
  std::string last;
  int64_t seq = 0;
  absl::Time next_poll = absl::Now();
  std::unique_lock<std::mutex> lock(mu_);
  const auto notified = [this] { return !changed_campaigns_.empty() || changed_other_; };
  while (!stop_) {
    cv_.wait_for(lock, absl::ToChronoMilliseconds(std::max(absl::ZeroDuration(), next_poll - absl::Now())),
                 [&] { return stop_ || notified(); });
    if (stop_) break;
    if (notified()) {
      // Let a burst (a worker's epoch, its job's progress, the campaign's
      // counters) arrive, then publish it as one event.
      cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.feed_coalesce), [this] { return stop_; });
      if (stop_) break;
      json campaigns = json::array();
      for (int64_t id : changed_campaigns_) campaigns.push_back(id);
      const bool other = changed_other_;
      changed_campaigns_.clear();
      changed_other_ = false;
      if (http->event_streams() > 0) {
        http->Publish("change", json{{"seq", ++seq}, {"campaigns", campaigns}, {"fleet", other}}.dump());
      }
      continue;
    }
    const bool listening = listener_ != nullptr && listener_->listening();
    next_poll = absl::Now() + (listening ? options_.feed_resync : options_.feed_poll);
    if (http->event_streams() == 0) {
      last.clear();  // a first stream later gets a fresh baseline
      continue;
    }
    lock.unlock();
    auto fp = queries_.Fingerprint();
    lock.lock();
    if (!fp.ok()) continue;  // the database is down: nothing changes meanwhile
    if (*fp != last) {
      // A first baseline (the first stream just opened) is published too: a
      // change between the page's first reads and this poll is in it, and
      // would otherwise never be announced.
      last = *fp;
      http->Publish("change", json{{"seq", ++seq}}.dump());
    }
  }
}

}  // namespace moe4::coordinator
