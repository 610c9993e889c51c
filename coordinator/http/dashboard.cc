#include "coordinator/http/dashboard.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "coordinator/http/ui_assets.h"
#include "coordinator/scheduler/campaign_planner.h"
#include "coordinator/scheduler/pending_reason.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {
namespace {

using json = nlohmann::json;
namespace pb = google::protobuf;

constexpr char kCookie[] = "moe4_session";
constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 500;
constexpr int kMaxCampaignsScanned = 10000;  // deepest campaign page
constexpr int64_t kMaxId = int64_t{1} << 53;  // ids the browser holds exactly

// ---- JSON --------------------------------------------------------------

// "JobState" -> "JOB_STATE_".
std::string EnumPrefix(const std::string& type) {
  std::string out;
  for (size_t i = 0; i < type.size(); ++i) {
    if (i > 0 && std::isupper(static_cast<unsigned char>(type[i]))) out += '_';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(type[i])));
  }
  return out + "_";
}

// JOB_STATE_RUNNING -> "running".
std::string EnumText(const pb::EnumValueDescriptor* v) {
  std::string name = v->name();
  const std::string prefix = EnumPrefix(v->type()->name());
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

json Double(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json ProtoJson(const pb::Message& m);

json FieldValue(const pb::Message& m, const pb::FieldDescriptor* f, int index) {
  const pb::Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32: return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case pb::FieldDescriptor::CPPTYPE_INT64: return rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
    case pb::FieldDescriptor::CPPTYPE_UINT32: return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    // Seeds: full 64 bits, which a JavaScript number cannot hold.
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case pb::FieldDescriptor::CPPTYPE_DOUBLE: return Double(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case pb::FieldDescriptor::CPPTYPE_FLOAT: return Double(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case pb::FieldDescriptor::CPPTYPE_BOOL: return rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f);
    case pb::FieldDescriptor::CPPTYPE_STRING: return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case pb::FieldDescriptor::CPPTYPE_ENUM: return EnumText(rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f));
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return ProtoJson(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
  }
  return nullptr;
}

// Field names as in the .proto; int64 as numbers (ids stay below 2^53), enums
// as short lower-case names, NaN and infinities as null, unset optional
// fields as null, maps as objects.
json ProtoJson(const pb::Message& m) {
  const pb::Descriptor* d = m.GetDescriptor();
  const pb::Reflection* r = m.GetReflection();
  json out = json::object();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->is_map()) {
      json obj = json::object();
      for (int k = 0; k < r->FieldSize(m, f); ++k) {
        const pb::Message& entry = r->GetRepeatedMessage(m, f, k);
        const pb::FieldDescriptor* key = entry.GetDescriptor()->FindFieldByName("key");
        const pb::FieldDescriptor* value = entry.GetDescriptor()->FindFieldByName("value");
        obj[FieldValue(entry, key, -1).get<std::string>()] = FieldValue(entry, value, -1);
      }
      out[f->name()] = std::move(obj);
    } else if (f->is_repeated()) {
      json arr = json::array();
      for (int k = 0; k < r->FieldSize(m, f); ++k) arr.push_back(FieldValue(m, f, k));
      out[f->name()] = std::move(arr);
    } else if (f->has_presence() && !r->HasField(m, f)) {
      out[f->name()] = nullptr;
    } else {
      out[f->name()] = FieldValue(m, f, -1);
    }
  }
  return out;
}

HttpResponse Json(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  // Database text is whatever it is: never let invalid UTF-8 fail a page.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse Error(int status, const std::string& message) { return Json(status, json{{"error", message}}); }

HttpResponse FromStatus(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kNotFound: return Error(404, std::string(s.message()));
    case absl::StatusCode::kInvalidArgument: return Error(400, std::string(s.message()));
    case absl::StatusCode::kFailedPrecondition: return Error(409, std::string(s.message()));
    case absl::StatusCode::kUnavailable: return Error(503, "database unavailable");
    default:
      spdlog::warn("dashboard: {}", s.ToString());
      return Error(500, "internal error");
  }
}

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

// ---- response shapes ------------------------------------------------------

json CampaignJson(const moe4::v1::CampaignSummary& c) {
  json j = ProtoJson(c);
  const int total = c.pending() + c.leased() + c.running() + c.succeeded() + c.failed() + c.cancelled() +
                    c.waiting() + c.stopped();
  j["jobs"] = total;
  j["finished"] = c.succeeded() + c.failed() + c.cancelled() + c.stopped();
  // best_test_accuracy is 0 until a combination has a result.
  if (c.succeeded() == 0) j["best_test_accuracy"] = nullptr;
  return j;
}

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
      listener_(listener) {}

Dashboard::~Dashboard() { Stop(); }

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
    if (seg[2] == "cancel") {
      auto n = store_.CancelCampaign(id);
      if (!n.ok()) return FromStatus(n.status());
      spdlog::info("dashboard: campaign {} cancelled ({} jobs)", id, *n);
      return Json(200, json{{"campaign_id", id}, {"jobs_cancelled", *n}});
    }
    absl::Status s = seg[2] == "pause" ? store_.PauseCampaign(id) : store_.ResumeCampaign(id);
    if (!s.ok()) return FromStatus(s);
    spdlog::info("dashboard: campaign {} {}d", id, seg[2] == "pause" ? "pause" : "resume");
    return Json(200, json{{"campaign_id", id}, {"done", seg[2]}});
  }
  if (req.method != "GET" && req.method != "HEAD") return Error(405, "GET, or POST for actions");

  HttpResponse bad;
  int limit = 0;
  int64_t cursor = 0;

  // GET /campaigns?limit&cursor: newest first; cursor = the last id seen.
  if (seg.size() == 1 && seg[0] == "campaigns") {
    if (!IntParam(req, "limit", 1, kMaxLimit, kDefaultLimit, &limit, &bad) || !CursorParam(req, &cursor, &bad)) return bad;
    // The store lists the newest N: skip those at or above the cursor.
    int64_t skip = 0;
    if (cursor > 0) {
      auto n = queries_.CampaignsFrom(cursor);
      if (!n.ok()) return FromStatus(n.status());
      skip = *n;
    }
    if (skip + limit > kMaxCampaignsScanned) return Error(400, "cursor: too deep (10000 campaigns at most)");
    auto all = store_.ListCampaigns(static_cast<int>(skip) + limit + 1);
    if (!all.ok()) return FromStatus(all.status());
    json items = json::array();
    size_t i = static_cast<size_t>(skip);
    for (; i < all->size() && items.size() < static_cast<size_t>(limit); ++i) {
      if (cursor > 0 && (*all)[i].campaign_id() >= cursor) continue;  // created meanwhile
      items.push_back(CampaignJson((*all)[i]));
    }
    json next = nullptr;
    if (i < all->size() && !items.empty()) next = std::to_string(items.back()["campaign_id"].get<int64_t>());
    return Json(200, json{{"items", items}, {"next_cursor", next}, {"role", RoleName(caller.role)}});
  }

  // GET /workers?limit&cursor: by worker id.
  if (seg.size() == 1 && seg[0] == "workers") {
    if (!IntParam(req, "limit", 1, kMaxLimit, kDefaultLimit, &limit, &bad) || !CursorParam(req, &cursor, &bad)) return bad;
    auto workers = store_.ListWorkers();
    if (!workers.ok()) return FromStatus(workers.status());
    auto totals = queries_.WorkerTotalsAll();
    if (!totals.ok()) return FromStatus(totals.status());
    std::map<int64_t, const WorkerTotals*> by_id;
    for (const auto& t : *totals) by_id[t.worker_id] = &t;
    std::sort(workers->begin(), workers->end(),
              [](const auto& a, const auto& b) { return a.worker_id() < b.worker_id(); });
    json items = json::array();
    json next = nullptr;
    const int64_t now_ms = absl::ToUnixMillis(absl::Now());
    for (const auto& w : *workers) {
      if (w.worker_id() <= cursor) continue;
      if (items.size() == static_cast<size_t>(limit)) {
        next = std::to_string(items.back()["worker_id"].get<int64_t>());
        break;
      }
      json j = ProtoJson(w);
      j["heartbeat_age_seconds"] = std::max<int64_t>(0, now_ms - w.last_heartbeat_unix_ms()) / 1000.0;
      j["state"] = !w.alive() ? "offline" : w.current_job_id() != 0 ? "busy" : "idle";
      if (auto it = by_id.find(w.worker_id()); it != by_id.end()) {
        j["jobs_succeeded"] = it->second->succeeded;
        j["jobs_failed"] = it->second->failed;
        j["images_per_second"] = Double(it->second->images_per_second);
        j["threads"] = it->second->threads;
        j["version"] = it->second->version;
      }
      items.push_back(std::move(j));
    }
    return Json(200, json{{"items", items}, {"next_cursor", next}});
  }

  // GET /jobs/{id}
  int64_t id = 0;
  if (seg.size() == 2 && seg[0] == "jobs") {
    if (!ParseId(seg[1], &id)) return Error(400, "job id: expected a positive integer");
    auto job = store_.GetJob(id);
    if (!job.ok()) return FromStatus(job.status());
    auto attempts = queries_.Attempts(id);
    if (!attempts.ok()) return FromStatus(attempts.status());
    json j = ProtoJson(job->job());
    j.erase("epochs");  // GetJob returns them beside the job
    json epochs = json::array();
    for (const auto& e : job->epochs()) {
      json epoch = ProtoJson(e);
      // Worker to coordinator only, always empty here: the job has the counts.
      epoch.erase("skipped_images");
      epochs.push_back(std::move(epoch));
    }
    json att = json::array();
    for (const auto& a : *attempts) {
      att.push_back(json{{"attempt", a.attempt},
                         {"worker", a.worker},
                         {"started_unix_ms", a.started_unix_ms},
                         {"ended_unix_ms", a.ended_unix_ms == 0 ? json(nullptr) : json(a.ended_unix_ms)},
                         {"outcome", a.outcome},
                         {"reason", a.reason}});
    }
    return Json(200, json{{"job", j}, {"epochs", epochs}, {"attempts", att}});
  }

  if (seg.size() < 2 || seg[0] != "campaigns") return Error(404, "not found");
  if (!ParseId(seg[1], &id)) return Error(400, "campaign id: expected a positive integer");

  // GET /campaigns/{id}
  if (seg.size() == 2) {
    auto st = store_.GetCampaign(id);
    if (!st.ok()) return FromStatus(st.status());
    const moe4::v1::GetResponse& g = st->response;
    json j = ProtoJson(g);
    j["campaign"] = CampaignJson(g.campaign());
    const int pending = g.campaign().pending();
    std::string reason;
    if (st->state == moe4::v1::CAMPAIGN_STATE_PAUSED && pending > 0) {
      reason = absl::StrCat(pending, " pending jobs wait: the campaign is paused");
    } else if (st->state == moe4::v1::CAMPAIGN_STATE_ACTIVE) {
      reason = ExplainPending(st->pending_ready, st->live_workers);
    }
    j["pending_reason"] = reason;
    // Epochs left at the measured pace, spread over the workers busy on it.
    const int left = std::max(0, g.epochs_total() - g.epochs_done());
    j["eta_seconds"] = g.busy_workers() > 0 && g.mean_epoch_seconds() > 0
                           ? json(left * g.mean_epoch_seconds() / g.busy_workers())
                           : json(nullptr);
    j["role"] = RoleName(caller.role);
    return Json(200, j);
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
    auto entries = store_.Leaderboard(id, top, by == "final");
    if (!entries.ok()) return FromStatus(entries.status());
    json items = json::array();
    for (const auto& e : *entries) items.push_back(ProtoJson(e));
    return Json(200, json{{"items", items}, {"by", by}});
  }
  if (what == "families") {
    auto stats = store_.FamilyStats(id);
    if (!stats.ok()) return FromStatus(stats.status());
    json items = json::array();
    for (const auto& f : *stats) items.push_back(ProtoJson(f));
    return Json(200, json{{"items", items}});
  }
  if (what == "pairs") {
    int top = 0;
    if (!IntParam(req, "limit", 1, kMaxLimit, kDefaultLimit, &top, &bad)) return bad;
    auto pairs = store_.PairStats(id, 0.1);
    if (!pairs.ok()) return FromStatus(pairs.status());
    json items = json::array();
    for (int i = 0; i < static_cast<int>(pairs->size()) && i < top; ++i) items.push_back(ProtoJson((*pairs)[i]));
    return Json(200, json{{"items", items}, {"total", pairs->size()}});
  }
  if (what == "coverage") {
    auto cand = store_.Candidates(id);
    if (!cand.ok()) return FromStatus(cand.status());
    moe4::v1::CoverageResponse cov = CoverageOf(cand->pool, cand->k, cand->families);
    AddAttrition(*cand, &cov);
    return Json(200, ProtoJson(cov));
  }
  if (what == "events") {
    if (!IntParam(req, "limit", 1, kMaxLimit, 20, &limit, &bad)) return bad;
    auto events = queries_.CampaignEvents(id, limit);
    if (!events.ok()) return FromStatus(events.status());
    json items = json::array();
    for (const auto& e : *events) {
      items.push_back(json{{"id", e.id},
                           {"at_unix_ms", e.at_unix_ms},
                           {"kind", e.kind},
                           {"job_id", e.job_id},
                           {"worker_id", e.worker_id},
                           {"detail", e.detail}});
    }
    return Json(200, json{{"items", items}});
  }
  if (what == "jobs") {
    if (!IntParam(req, "limit", 1, kMaxLimit, kDefaultLimit, &limit, &bad) || !CursorParam(req, &cursor, &bad)) return bad;
    JobQuery q;
    q.campaign_id = id;
    q.state = req.Query("state");
    if (!q.state.empty() && std::find(std::begin(kJobStates), std::end(kJobStates), q.state) == std::end(kJobStates)) {
      return Error(400, "state: pending, leased, running, succeeded, failed or cancelled");
    }
    q.after_job_id = cursor;
    q.limit = limit + 1;  // one more says whether there is a next page
    auto jobs = store_.ListJobs(q);
    if (!jobs.ok()) return FromStatus(jobs.status());
    json items = json::array();
    for (int i = 0; i < static_cast<int>(jobs->size()) && i < limit; ++i) {
      json j = ProtoJson((*jobs)[i]);
      j.erase("epochs");
      items.push_back(std::move(j));
    }
    json next = nullptr;
    if (static_cast<int>(jobs->size()) > limit) next = std::to_string((*jobs)[limit - 1].job_id());
    return Json(200, json{{"items", items}, {"next_cursor", next}});
  }
  if (what == "curves") {
    // The leading candidates' learning curves: the leaderboard's top jobs,
    // then running jobs while fewer have finished.
    int top = 0;
    if (!IntParam(req, "top", 1, 10, 5, &top, &bad)) return bad;
    auto entries = store_.Leaderboard(id, top, false);
    if (!entries.ok()) return FromStatus(entries.status());
    std::vector<int64_t> ids;
    for (const auto& e : *entries) ids.push_back(e.job_id());
    if (static_cast<int>(ids.size()) < top) {
      JobQuery q;
      q.campaign_id = id;
      q.state = "running";
      q.limit = top - static_cast<int>(ids.size());
      auto running = store_.ListJobs(q);
      if (!running.ok()) return FromStatus(running.status());
      for (const auto& j : *running) ids.push_back(j.job_id());
    }
    json items = json::array();
    for (int64_t job_id : ids) {
      auto job = store_.GetJob(job_id);
      if (!job.ok()) return FromStatus(job.status());
      json c = {{"job_id", job_id}, {"families", job->job().families()}, {"state", EnumText(moe4::v1::JobState_descriptor()->FindValueByNumber(job->job().state()))}};
      json ep = json::array(), test = json::array(), val = json::array(), train = json::array();
      for (const auto& e : job->epochs()) {
        ep.push_back(e.epoch());
        test.push_back(Double(e.test_accuracy()));
        train.push_back(Double(e.train_accuracy()));
        val.push_back(e.has_validation_accuracy() ? Double(e.validation_accuracy()) : json(nullptr));
      }
      c["epochs"] = ep;
      c["test_accuracy"] = test;
      c["validation_accuracy"] = val;
      c["train_accuracy"] = train;
      items.push_back(std::move(c));
    }
    return Json(200, json{{"items", items}});
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
      const bool first = last.empty();
      last = *fp;
      if (!first) http->Publish("change", json{{"seq", ++seq}}.dump());
    }
  }
}

}  // namespace moe4::coordinator
