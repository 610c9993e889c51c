#include "coordinator/service/worker_service.h"

#include "absl/strings/str_cat.h"
#include "coordinator/service/validation.h"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {
namespace {

constexpr Scope kScope = Scope::kWorkerService;

// The fields every fenced write carries.
absl::Status CheckFence(int64_t worker_id, int64_t job_id, int attempt) {
  absl::Status s = CheckId("worker_id", worker_id);
  if (s.ok()) s = CheckId("job_id", job_id);
  if (s.ok()) s = CheckRange("attempt", attempt, 1, 1000000);
  return s;
}

absl::Status CheckEpoch(const moe4::v1::EpochMetrics& m, int i) {
  const std::string f = absl::StrCat("epochs[", i, "]");
  absl::Status s = CheckRange(f + ".epoch", m.epoch(), 1, kMaxEpoch);
  if (s.ok()) s = CheckRange(f + ".gate_mean size", m.gate_mean_size(), 0, kMaxExperts);
  if (s.ok()) s = CheckRange(f + ".routing_share size", m.routing_share_size(), 0, kMaxExperts);
  if (s.ok()) {
    s = CheckRange(f + ".expert_accuracy size", m.expert_accuracy_size(), 0, kMaxExperts);
  }
  if (s.ok()) s = CheckRange(f + ".dead_experts", m.dead_experts(), 0, kMaxExperts);
  if (s.ok()) s = CheckRange(f + ".peak_memory_bytes", m.peak_memory_bytes(), 0, INT64_MAX);
  if (s.ok()) s = CheckRange(f + ".skipped_images size", m.skipped_images_size(), 0, kMaxSkippedImageKeys);
  // Keys become jsonb object keys: no NUL (nor other control characters).
  for (auto it = m.skipped_images().begin(); s.ok() && it != m.skipped_images().end(); ++it) {
    s = CheckString(f + ".skipped_images key", it->first, 1, kMaxSkippedImageKeyBytes);
    if (s.ok()) s = CheckRange(absl::StrCat(f, ".skipped_images[", it->first, "]"), it->second, 1, INT32_MAX);
  }
  return s;
}

}  // namespace

WorkerServiceImpl::WorkerServiceImpl(JobStore& store, const RpcRunner& runner,
                                     WorkerServiceOptions options)
    : store_(store), runner_(runner), options_(options) {}

absl::Status WorkerServiceImpl::NoteFenced(absl::Status s, absl::string_view what, int64_t job_id,
                                           int attempt) {
  if (absl::IsFailedPrecondition(s)) {
    runner_.metrics().AddFencedWrites(1);
    spdlog::warn("fenced {} for job {} attempt {}: {}", std::string(what), job_id, attempt,
                 std::string(s.message()));
  }
  return s;
}

grpc::Status WorkerServiceImpl::Register(grpc::ServerContext* ctx,
                                         const moe4::v1::RegisterRequest* req,
                                         moe4::v1::RegisterResponse* resp) {
  return runner_.Run(ctx, "WorkerService/Register", kScope, [&]() -> absl::Status {
    absl::Status s = CheckString("name", req->name(), 1, kMaxNameLength, /*token_chars=*/true);
    if (s.ok() && req->device_kind() != "cpu" && req->device_kind() != "cuda") {
      s = absl::InvalidArgumentError(
          absl::StrCat("device_kind: must be \"cpu\" or \"cuda\", got \"",
                       req->device_kind().substr(0, 32), "\""));
    }
    if (s.ok()) s = CheckString("device_name", req->device_name(), 0, kMaxLabelLength);
    if (s.ok()) s = CheckRange("device_memory_mb", req->device_memory_mb(), 0, kMaxMemoryMb);
    if (s.ok()) s = CheckRange("threads", req->threads(), 0, kMaxThreads);
    if (s.ok()) s = CheckString("version", req->version(), 0, kMaxLabelLength);
    if (!s.ok()) return s;
    absl::StatusOr<int64_t> id = store_.RegisterWorker(*req);
    if (!id.ok()) return id.status();
    resp->set_worker_id(*id);
    spdlog::info("worker {} registered as {} ({} {}, {} MB)", *id, req->name(),
                 req->device_kind(), req->device_name(), req->device_memory_mb());
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::Lease(grpc::ServerContext* ctx, const moe4::v1::LeaseRequest* req,
                                      moe4::v1::LeaseResponse* resp) {
  return runner_.Run(ctx, "WorkerService/Lease", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("worker_id", req->worker_id());
    if (s.ok()) s = CheckRange("free_memory_mb", req->free_memory_mb(), 0, kMaxMemoryMb);
    if (!s.ok()) return s;
    auto job = store_.LeaseJob(*req, options_.lease);
    if (!job.ok()) return job.status();
    if (!job->has_value()) {
      resp->set_retry_after_ms(options_.retry_after_ms);
      return absl::OkStatus();
    }
    runner_.metrics().AddLeasesGranted(1);
    // protoc gives the bool field `has_job` no C++ accessors: its name
    // collides with the presence test of `job`, which says the same thing.
    *resp->mutable_job() = std::move(**job);
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* ctx,
                                          const moe4::v1::HeartbeatRequest* req,
                                          moe4::v1::HeartbeatResponse* resp) {
  return runner_.Run(ctx, "WorkerService/Heartbeat", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("worker_id", req->worker_id());
    if (s.ok()) s = CheckRange("job_id", req->job_id(), 0, INT64_MAX);
    if (s.ok() && req->job_id() != 0) s = CheckRange("attempt", req->attempt(), 1, 1000000);
    if (s.ok()) s = CheckRange("epoch", req->epoch(), 0, kMaxEpoch);
    if (s.ok()) s = CheckRange("step", req->step(), 0, INT64_MAX);
    if (!s.ok()) return s;
    auto hb = store_.Heartbeat(*req, options_.lease);
    if (!hb.ok()) return NoteFenced(hb.status(), "heartbeat", req->job_id(), req->attempt());
    resp->set_cancel(hb->cancel);
    resp->set_stop_reason(hb->stop_reason);
    resp->set_lease_deadline_unix_ms(hb->lease_deadline_unix_ms);
    if (hb->cancel) {
      spdlog::info("job {} attempt {}: told worker {} to stop", req->job_id(), req->attempt(),
                   req->worker_id());
    }
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::ReportEpochs(grpc::ServerContext* ctx,
                                             const moe4::v1::ReportEpochsRequest* req,
                                             moe4::v1::ReportEpochsResponse* resp) {
  return runner_.Run(ctx, "WorkerService/ReportEpochs", kScope, [&]() -> absl::Status {
    absl::Status s = CheckFence(req->worker_id(), req->job_id(), req->attempt());
    if (s.ok()) s = CheckRange("epochs size", req->epochs_size(), 1, kMaxEpochsPerReport);
    for (int i = 0; s.ok() && i < req->epochs_size(); ++i) s = CheckEpoch(req->epochs(i), i);
    if (!s.ok()) return s;
    auto stored = store_.ReportEpochs(*req, options_.lease);
    if (!stored.ok()) {
      return NoteFenced(stored.status(), "epoch report", req->job_id(), req->attempt());
    }
    runner_.metrics().AddEpochRows(*stored);
    resp->set_stored(*stored);
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::Complete(grpc::ServerContext* ctx,
                                         const moe4::v1::CompleteRequest* req,
                                         moe4::v1::CompleteResponse* resp) {
  return runner_.Run(ctx, "WorkerService/Complete", kScope, [&]() -> absl::Status {
    absl::Status s = CheckFence(req->worker_id(), req->job_id(), req->attempt());
    if (s.ok()) s = CheckFiniteRange("final_test_accuracy", req->final_test_accuracy(), 0, 1);
    if (s.ok()) s = CheckFiniteRange("best_test_accuracy", req->best_test_accuracy(), 0, 1);
    if (s.ok()) s = CheckRange("parameter_count", req->parameter_count(), 0, INT64_MAX);
    if (s.ok()) s = CheckFiniteRange("train_seconds", req->train_seconds(), 0, 1e9);
    if (!s.ok()) return s;
    return NoteFenced(store_.Complete(*req), "completion", req->job_id(), req->attempt());
  });
}

grpc::Status WorkerServiceImpl::Fail(grpc::ServerContext* ctx, const moe4::v1::FailRequest* req,
                                     moe4::v1::FailResponse* resp) {
  return runner_.Run(ctx, "WorkerService/Fail", kScope, [&]() -> absl::Status {
    absl::Status s = CheckFence(req->worker_id(), req->job_id(), req->attempt());
    if (s.ok()) s = CheckString("reason", req->reason(), 0, kMaxReasonLength);
    if (s.ok() && !moe4::v1::FailureKind_IsValid(req->kind())) {
      s = absl::InvalidArgumentError(absl::StrCat("kind: unknown failure kind ", req->kind()));
    }
    if (s.ok()) s = CheckRange("memory_needed_mb", req->memory_needed_mb(), 0, kMaxMemoryMb);
    if (!s.ok()) return s;
    moe4::v1::FailRequest copy;
    const moe4::v1::FailRequest* r = req;
    if (req->reason().empty()) {
      copy = *req;
      copy.set_reason("(no reason given)");
      r = &copy;
    }
    auto result = store_.Fail(*r);
    if (!result.ok()) return NoteFenced(result.status(), "failure", req->job_id(), req->attempt());
    resp->set_will_retry(result->will_retry);
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::ObsoleteJobs(grpc::ServerContext* ctx, const moe4::v1::ObsoleteJobsRequest* req,
                                             moe4::v1::ObsoleteJobsResponse* resp) {
  return runner_.Run(ctx, "WorkerService/ObsoleteJobs", kScope, [&]() -> absl::Status {
    absl::Status s = CheckId("worker_id", req->worker_id());
    if (s.ok()) s = CheckRange("job_ids size", req->job_ids_size(), 0, kMaxObsoleteJobsAsked);
    for (int i = 0; s.ok() && i < req->job_ids_size(); ++i) {
      s = CheckId(absl::StrCat("job_ids[", i, "]"), req->job_ids(i));
    }
    if (!s.ok()) return s;
    auto obsolete = store_.ObsoleteJobs({req->job_ids().begin(), req->job_ids().end()});
    if (!obsolete.ok()) return obsolete.status();
    for (const int64_t id : *obsolete) resp->add_obsolete_job_ids(id);
    return absl::OkStatus();
  });
}

}  // namespace moe4::coordinator
