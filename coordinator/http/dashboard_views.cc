// The dashboard API's GET answers (Dashboard::*View), each computed from the
// store with parameters Api() has already validated. The expensive ones
// (campaign summaries and statistics) are called through the ViewCache, so
// they must depend on nothing but their arguments.
#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "coordinator/http/api_json.h"
#include "coordinator/http/dashboard.h"
#include "coordinator/scheduler/campaign_planner.h"
#include "coordinator/scheduler/pending_reason.h"

namespace moe4::coordinator {

using api::Double;
using api::EnumText;
using api::Error;
using api::FromStatus;
using api::Json;
using api::json;
using api::ProtoJson;

namespace {

constexpr int kMaxCampaignsScanned = 10000;  // deepest campaign page

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

// Newest first; `cursor` = the last id seen (0: from the newest).
HttpResponse Dashboard::CampaignsView(int limit, int64_t cursor, Role role) {
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
  return Json(200, json{{"items", items}, {"next_cursor", next}, {"role", RoleName(role)}});
}

// By worker id, one page read from the database (totals of that page only).
HttpResponse Dashboard::WorkersView(int limit, int64_t cursor) {
  auto page = store_.ListWorkersById(cursor, limit + 1);
  if (!page.ok()) return FromStatus(page.status());
  std::vector<int64_t> ids;
  for (const auto& w : *page) ids.push_back(w.worker_id());
  auto totals = queries_.WorkerTotalsOf(ids);
  if (!totals.ok()) return FromStatus(totals.status());
  std::map<int64_t, const WorkerTotals*> by_id;
  for (const auto& t : *totals) by_id[t.worker_id] = &t;
  json items = json::array();
  json next = nullptr;
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  for (const auto& w : *page) {
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

HttpResponse Dashboard::JobView(int64_t id) {
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

HttpResponse Dashboard::CampaignView(int64_t id, Role role) {
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
  j["role"] = RoleName(role);
  return Json(200, j);
}

HttpResponse Dashboard::LeaderboardView(int64_t id, int top, bool by_final) {
  auto entries = store_.Leaderboard(id, top, by_final);
  if (!entries.ok()) return FromStatus(entries.status());
  json items = json::array();
  for (const auto& e : *entries) items.push_back(ProtoJson(e));
  return Json(200, json{{"items", items}, {"by", by_final ? "final" : "validation"}});
}

HttpResponse Dashboard::FamiliesView(int64_t id) {
  auto stats = store_.FamilyStats(id);
  if (!stats.ok()) return FromStatus(stats.status());
  json items = json::array();
  for (const auto& f : *stats) items.push_back(ProtoJson(f));
  return Json(200, json{{"items", items}});
}

HttpResponse Dashboard::PairsView(int64_t id, int limit) {
  auto pairs = store_.PairStats(id, 0.1);
  if (!pairs.ok()) return FromStatus(pairs.status());
  json items = json::array();
  for (int i = 0; i < static_cast<int>(pairs->size()) && i < limit; ++i) items.push_back(ProtoJson((*pairs)[i]));
  return Json(200, json{{"items", items}, {"total", pairs->size()}});
}

HttpResponse Dashboard::CoverageView(int64_t id) {
  auto cand = store_.Candidates(id);
  if (!cand.ok()) return FromStatus(cand.status());
  moe4::v1::CoverageResponse cov = CoverageOf(cand->pool, cand->k, cand->families);
  AddAttrition(*cand, &cov);
  return Json(200, ProtoJson(cov));
}

HttpResponse Dashboard::EventsView(int64_t id, int limit) {
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

HttpResponse Dashboard::JobsView(int64_t id, const std::string& state, int64_t cursor, int limit) {
  JobQuery q;
  q.campaign_id = id;
  q.state = state;
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

// The leading candidates' learning curves: the leaderboard's top jobs, then
// running jobs while fewer have finished.
HttpResponse Dashboard::CurvesView(int64_t id, int top) {
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
    json c = {{"job_id", job_id},
              {"families", job->job().families()},
              {"state", EnumText(moe4::v1::JobState_descriptor()->FindValueByNumber(job->job().state()))}};
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

}  // namespace moe4::coordinator
