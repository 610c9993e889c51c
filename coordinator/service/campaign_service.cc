#include "coordinator/service/campaign_service.h"

#include <cstdint>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "coordinator/scheduler/campaign_planner.h"
#include "coordinator/scheduler/memory_check.h"
#include "coordinator/scheduler/pending_reason.h"
#include "coordinator/service/validation.h"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {
namespace {

constexpr Scope kScope = Scope::kCampaignService;

// The jobs.state value of a (valid, specified) JobState.
const char* JobStateText(moe4::v1::JobState s) {
  switch (s) {
    case moe4::v1::JOB_STATE_PENDING: return "pending";
    case moe4::v1::JOB_STATE_LEASED: return "leased";
    case moe4::v1::JOB_STATE_RUNNING: return "running";
    case moe4::v1::JOB_STATE_SUCCEEDED: return "succeeded";
    case moe4::v1::JOB_STATE_FAILED: return "failed";
    case moe4::v1::JOB_STATE_CANCELLED: return "cancelled";
    case moe4::v1::JOB_STATE_WAITING: return "waiting";
    case moe4::v1::JOB_STATE_STOPPED: return "stopped";
    default: return "";
  }
}

}  // namespace

CampaignServiceImpl::CampaignServiceImpl(JobStore& store, const RpcRunner& runner,
                                         CampaignServiceOptions options, ChangeListener* listener)
    : store_(store), runner_(runner), options_(std::move(options)) {
  WatchHubOptions hub;
  hub.poll = options_.watch_poll;
  hub.resync = options_.watch_resync;
  hub.max_streams = options_.max_watches;
  watches_ = std::make_unique<WatchHub>([this](int64_t id) { return Snapshot(id); }, runner_, listener, hub);
  watches_->Start();
}

CampaignServiceImpl::~CampaignServiceImpl() { watches_->Stop(); }

grpc::Status CampaignServiceImpl::Submit(grpc::ServerContext* ctx,
                                         const moe4::v1::SubmitRequest* req,
                                         moe4::v1::SubmitResponse* resp) {
  return runner_.Run(ctx, "CampaignService/Submit", kScope, [&]() -> absl::Status {
    if (req->spec_yaml().empty() || req->spec_yaml().size() > options_.limits.max_spec_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("spec_yaml: must be 1..",
                                                     options_.limits.max_spec_bytes,
                                                     " bytes, got ", req->spec_yaml().size()));
    }
    absl::StatusOr<CampaignPlan> plan = PlanCampaign(req->spec_yaml(), options_.limits);
    if (!plan.ok()) return plan.status();
    resp->set_jobs(static_cast<int32_t>(plan->jobs.size()));
    // Memory: refuse what no registered worker could ever hold (all of them,
    // alive or not: a worker that is down now may be back tomorrow).
    absl::StatusOr<std::vector<moe4::v1::WorkerInfo>> workers = store_.ListWorkers();
    if (!workers.ok()) return workers.status();
    absl::StatusOr<CampaignMemoryCheck> memory = CheckCampaignMemory(*plan, *workers);
    if (!memory.ok()) return memory.status();
    resp->set_memory_estimate_mb(memory->heaviest_mb);
    for (const auto& f : memory->heaviest_families) resp->add_memory_estimate_families(f);
    for (const auto& w : memory->warnings) resp->add_warnings(w);
    if (req->dry_run()) {
      std::vector<std::vector<std::string>> candidates;
      candidates.reserve(plan->jobs.size());
      for (const PlannedJob& job : plan->jobs) {
        if (job.replicate != 0) continue;  // combinations, each once
        moe4::v1::Combination* c = resp->add_combinations();
        c->set_rank(static_cast<int64_t>(job.rank));
        for (const auto& f : job.families) c->add_families(f);
        candidates.push_back(job.families);
      }
      *resp->mutable_coverage() = CoverageOf(plan->spec.pool, plan->spec.k, candidates);
      return absl::OkStatus();
    }
    absl::StatusOr<int64_t> id = store_.CreateCampaign(*plan);
    if (!id.ok()) return id.status();
    resp->set_campaign_id(*id);
    spdlog::info("campaign {} \"{}\" submitted: {} jobs, k={}, sampler={}, heaviest job ~{} MiB (estimate)", *id,
                 plan->spec.name, plan->jobs.size(), plan->spec.k, SamplerName(plan->spec.sampler),
                 memory->heaviest_mb);
    for (const auto& w : memory->warnings) spdlog::warn("campaign {}: {}", *id, w);
    return absl::OkStatus();
  });
}

grpc::Status CampaignServiceImpl::List(grpc::ServerContext* ctx, const moe4::v1::ListRequest* req,
                                       moe4::v1::ListResponse* resp) {
  return runner_.Run(ctx, "CampaignService/List", kScope, [&]() -> absl::Status {
    absl::Status s = CheckRange("limit", req->limit(), 0, kMaxListLimit);
    if (!s.ok()) return s;
    auto campaigns = store_.ListCampaigns(req->limit() == 0 ? 50 : req->limit());
    if (!campaigns.ok()) return campaigns.status();
    for (auto& c : *campaigns) *resp->add_campaigns() = std::move(c);
    return absl::OkStatus();
  });
}

absl::StatusOr<moe4::v1::GetResponse> CampaignServiceImpl::Snapshot(int64_t campaign_id) {
  absl::StatusOr<CampaignStatus> st = store_.GetCampaign(campaign_id);
  if (!st.ok()) return st.status();
  moe4::v1::GetResponse resp = std::move(st->response);
  const int pending = resp.campaign().pending();
  if (st->state == moe4::v1::CAMPAIGN_STATE_PAUSED && pending > 0) {
    resp.set_pending_reason(absl::StrCat(pending, " pending jobs wait: the campaign is paused"));
  } else if (st->state == moe4::v1::CAMPAIGN_STATE_ACTIVE) {
    resp.set_pending_reason(ExplainPending(st->pending_ready, st->live_workers));
  }
  return resp;
}

grpc::Status CampaignServiceImpl::Get(grpc::ServerContext* ctx, const moe4::v1::GetRequest* req,
                                      moe4::v1::GetResponse* resp) {
  return runner_.Run(ctx, "CampaignService/Get", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("campaign_id", req->campaign_id());
    if (!s.ok()) return s;
    auto snap = Snapshot(req->campaign_id());
    if (!snap.ok()) return snap.status();
    *resp = std::move(*snap);
    return absl::OkStatus();
  });
}

grpc::Status CampaignServiceImpl::Cancel(grpc::ServerContext* ctx,
                                         const moe4::v1::CancelRequest* req,
                                         moe4::v1::CancelResponse* resp) {
  return runner_.Run(ctx, "CampaignService/Cancel", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("campaign_id", req->campaign_id());
    if (!s.ok()) return s;
    auto n = store_.CancelCampaign(req->campaign_id());
    if (!n.ok()) return n.status();
    resp->set_jobs_cancelled(*n);
    return absl::OkStatus();
  });
}

grpc::Status CampaignServiceImpl::Pause(grpc::ServerContext* ctx,
                                        const moe4::v1::PauseRequest* req,
                                        moe4::v1::PauseResponse* resp) {
  return runner_.Run(ctx, "CampaignService/Pause", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("campaign_id", req->campaign_id());
    if (!s.ok()) return s;
    return store_.PauseCampaign(req->campaign_id());
  });
}

grpc::Status CampaignServiceImpl::Resume(grpc::ServerContext* ctx,
                                         const moe4::v1::ResumeRequest* req,
                                         moe4::v1::ResumeResponse* resp) {
  return runner_.Run(ctx, "CampaignService/Resume", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("campaign_id", req->campaign_id());
    if (!s.ok()) return s;
    return store_.ResumeCampaign(req->campaign_id());
  });
}

grpc::ServerWriteReactor<moe4::v1::WatchResponse>* CampaignServiceImpl::Watch(
    grpc::CallbackServerContext* ctx, const moe4::v1::WatchRequest* req) {
  absl::Status opened = runner_.Authorize(*ctx, kScope);
  if (opened.ok()) opened = CheckId("campaign_id", req->campaign_id());
  return watches_->Open(ctx, req->campaign_id(), opened);
}

grpc::Status CampaignServiceImpl::Leaderboard(grpc::ServerContext* ctx,
                                              const moe4::v1::LeaderboardRequest* req,
                                              moe4::v1::LeaderboardResponse* resp) {
  return runner_.Run(ctx, "CampaignService/Leaderboard", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("campaign_id", req->campaign_id());
    if (s.ok()) s = CheckRange("top", req->top(), 0, kMaxLeaderboardTop);
    if (s.ok() && req->by() == "best") {
      s = absl::InvalidArgumentError(
          "by: \"best\" (the best epoch's test accuracy) is no longer a ranking: it selects on the "
          "test set; use \"validation\" (the default) or \"final\"");
    } else if (s.ok() && !req->by().empty() && req->by() != "validation" && req->by() != "final") {
      s = absl::InvalidArgumentError("by: must be \"validation\" or \"final\"");
    }
    if (!s.ok()) return s;
    auto entries = store_.Leaderboard(req->campaign_id(), req->top() == 0 ? 20 : req->top(),
                                      req->by() == "final");
    if (!entries.ok()) return entries.status();
    for (auto& e : *entries) *resp->add_entries() = std::move(e);
    return absl::OkStatus();
  });
}

grpc::Status CampaignServiceImpl::FamilyStats(grpc::ServerContext* ctx,
                                              const moe4::v1::FamilyStatsRequest* req,
                                              moe4::v1::FamilyStatsResponse* resp) {
  return runner_.Run(ctx, "CampaignService/FamilyStats", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("campaign_id", req->campaign_id());
    if (!s.ok()) return s;
    std::optional<int> rung;
    if (req->has_rung()) rung = req->rung();
    auto stats = store_.FamilyStats(req->campaign_id(), rung);
    if (!stats.ok()) return stats.status();
    for (auto& f : *stats) *resp->add_families() = std::move(f);
    resp->set_rung(rung.value_or(0));
    // The epochs behind the figures: the rung's (asha) or the recipe's.
    auto campaign = store_.GetCampaign(req->campaign_id());
    if (!campaign.ok()) return campaign.status();
    const moe4::v1::Schedule& schedule = campaign->response.campaign().schedule();
    resp->set_rung_epochs(resp->rung() < schedule.rung_epochs_size() ? schedule.rung_epochs(resp->rung())
                                                                     : campaign->response.campaign().epochs());
    return absl::OkStatus();
  });
}

grpc::Status CampaignServiceImpl::Coverage(grpc::ServerContext* ctx,
                                           const moe4::v1::CoverageRequest* req,
                                           moe4::v1::CoverageResponse* resp) {
  return runner_.Run(ctx, "CampaignService/Coverage", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("campaign_id", req->campaign_id());
    if (!s.ok()) return s;
    auto cand = store_.Candidates(req->campaign_id());
    if (!cand.ok()) return cand.status();
    *resp = CoverageOf(cand->pool, cand->k, cand->families);
    AddAttrition(*cand, resp);
    return absl::OkStatus();
  });
}

grpc::Status CampaignServiceImpl::ListWorkers(grpc::ServerContext* ctx,
                                              const moe4::v1::ListWorkersRequest* req,
                                              moe4::v1::ListWorkersResponse* resp) {
  return runner_.Run(ctx, "CampaignService/ListWorkers", kScope, [&]() -> absl::Status {
    auto workers = store_.ListWorkers();
    if (!workers.ok()) return workers.status();
    for (auto& w : *workers) *resp->add_workers() = std::move(w);
    return absl::OkStatus();
  });
}

grpc::Status CampaignServiceImpl::ListJobs(grpc::ServerContext* ctx,
                                           const moe4::v1::ListJobsRequest* req,
                                           moe4::v1::ListJobsResponse* resp) {
  return runner_.Run(ctx, "CampaignService/ListJobs", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("campaign_id", req->campaign_id());
    if (s.ok() && !moe4::v1::JobState_IsValid(req->state())) {
      s = absl::InvalidArgumentError(absl::StrCat("state: unknown job state ", req->state()));
    }
    // Epochs make each job up to a few hundred times larger: a smaller page
    // keeps one response well under the message size limits.
    if (s.ok()) {
      s = CheckRange(req->include_epochs() ? "limit (with include_epochs)" : "limit",
                     req->limit(), 0,
                     req->include_epochs() ? kMaxJobsWithEpochsLimit : kMaxJobsLimit);
    }
    if (s.ok()) s = CheckRange("after_job_id", req->after_job_id(), 0, INT64_MAX);
    if (!s.ok()) return s;
    JobQuery query;
    query.campaign_id = req->campaign_id();
    if (req->state() != moe4::v1::JOB_STATE_UNSPECIFIED) query.state = JobStateText(req->state());
    query.after_job_id = req->after_job_id();
    query.limit = req->limit() == 0 ? 1000 : req->limit();
    query.include_epochs = req->include_epochs();
    auto jobs = store_.ListJobs(query);
    if (!jobs.ok()) return jobs.status();
    for (auto& j : *jobs) *resp->add_jobs() = std::move(j);
    return absl::OkStatus();
  });
}

grpc::Status CampaignServiceImpl::GetJob(grpc::ServerContext* ctx,
                                         const moe4::v1::GetJobRequest* req,
                                         moe4::v1::GetJobResponse* resp) {
  return runner_.Run(ctx, "CampaignService/GetJob", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("job_id", req->job_id());
    if (!s.ok()) return s;
    auto job = store_.GetJob(req->job_id());
    if (!job.ok()) return job.status();
    *resp = std::move(*job);
    return absl::OkStatus();
  });
}

grpc::Status CampaignServiceImpl::PairStats(grpc::ServerContext* ctx,
                                            const moe4::v1::PairStatsRequest* req,
                                            moe4::v1::PairStatsResponse* resp) {
  return runner_.Run(ctx, "CampaignService/PairStats", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("campaign_id", req->campaign_id());
    if (s.ok()) s = CheckFiniteRange("top_fraction", req->top_fraction(), 0, 1);
    if (!s.ok()) return s;
    std::optional<int> rung;
    if (req->has_rung()) rung = req->rung();
    auto pairs =
        store_.PairStats(req->campaign_id(), req->top_fraction() == 0 ? 0.1 : req->top_fraction(), rung);
    if (!pairs.ok()) return pairs.status();
    for (auto& p : *pairs) *resp->add_pairs() = std::move(p);
    resp->set_rung(rung.value_or(0));
    return absl::OkStatus();
  });
}

grpc::Status CampaignServiceImpl::Ecology(grpc::ServerContext* ctx,
                                          const moe4::v1::EcologyRequest* req,
                                          moe4::v1::EcologyResponse* resp) {
  return runner_.Run(ctx, "CampaignService/Ecology", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("campaign_id", req->campaign_id());
    if (!s.ok()) return s;
    auto points = store_.Ecology(req->campaign_id());
    if (!points.ok()) return points.status();
    for (auto& p : *points) *resp->add_points() = std::move(p);
    return absl::OkStatus();
  });
}

}  // namespace moe4::coordinator
