// An in-process WorkerService for the agent's tests (real gRPC over
// localhost): it hands out queued jobs, stores epoch reports, records every
// Complete and Fail, and can fail calls on demand (outages, fencing, a
// paused or cancelled job, refused reports). Its fields are the test's to
// set and read under `mu`. Safe for concurrent use (every handler locks mu).
#ifndef MOE4_TESTS_WORKER_FAKE_COORDINATOR_H_
#define MOE4_TESTS_WORKER_FAKE_COORDINATOR_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "moe4/v1/moe4.grpc.pb.h"

namespace moe4::worker::testing {

namespace v1 = moe4::v1;

class FakeCoordinator final : public v1::WorkerService::Service {
 public:
  grpc::Status Register(grpc::ServerContext* ctx, const v1::RegisterRequest* req, v1::RegisterResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    if (!Authorised(ctx)) return {grpc::StatusCode::UNAUTHENTICATED, "bad token"};
    registered_name = req->name();
    registered_kind = req->device_kind();
    resp->set_worker_id(5);
    return grpc::Status::OK;
  }
  grpc::Status Lease(grpc::ServerContext* ctx, const v1::LeaseRequest* req, v1::LeaseResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    if (!Authorised(ctx)) return {grpc::StatusCode::UNAUTHENTICATED, "bad token"};
    ++leases;
    if (unavailable_leases > 0) {
      --unavailable_leases;
      return {grpc::StatusCode::UNAVAILABLE, "coordinator down"};
    }
    free_memory_seen.push_back(req->free_memory_mb());
    if (req->worker_id() != 5) return {grpc::StatusCode::NOT_FOUND, "unknown worker"};
    if (jobs.empty()) {
      resp->set_retry_after_ms(20);  // no job field = nothing to do
      return grpc::Status::OK;
    }
    *resp->mutable_job() = jobs.front();
    current_attempt = jobs.front().attempt();
    jobs.pop_front();
    return grpc::Status::OK;
  }
  grpc::Status Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                         v1::HeartbeatResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    if (!Authorised(ctx)) return {grpc::StatusCode::UNAUTHENTICATED, "bad token"};
    ++heartbeats;
    if (fence_heartbeats) return {grpc::StatusCode::FAILED_PRECONDITION, "stale attempt"};
    resp->set_cancel(cancel);
    if (cancel) resp->set_stop_reason(stop_reason);
    return grpc::Status::OK;
  }
  grpc::Status ReportEpochs(grpc::ServerContext* ctx, const v1::ReportEpochsRequest* req,
                            v1::ReportEpochsResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    if (!Authorised(ctx)) return {grpc::StatusCode::UNAUTHENTICATED, "bad token"};
    if (unavailable_reports > 0) {
      --unavailable_reports;
      return {grpc::StatusCode::UNAVAILABLE, "coordinator down"};
    }
    if (reject_reports_from_epoch > 0 && req->epochs_size() > 0 &&
        req->epochs(0).epoch() >= reject_reports_from_epoch) {
      ++rejected_reports;
      return {grpc::StatusCode::INVALID_ARGUMENT, "epochs[0].gate_mean: 3 values for 2 experts"};
    }
    if (req->attempt() != current_attempt || fence) {
      return {grpc::StatusCode::FAILED_PRECONDITION, "stale attempt"};
    }
    calls.push_back("ReportEpochs");
    report_sizes.push_back(req->epochs_size());
    for (const auto& m : req->epochs()) {
      auto [it, inserted] = stored.emplace(m.epoch(), m);
      if (!inserted && it->second.SerializeAsString() != m.SerializeAsString()) ++conflicts;
      it->second = m;
      arrival.push_back(m.epoch());
      epochs_by_job[req->job_id()].push_back(m.epoch());
      if (on_epoch_stored) on_epoch_stored(m.epoch());
    }
    resp->set_stored(req->epochs_size());
    return grpc::Status::OK;
  }
  grpc::Status Complete(grpc::ServerContext* ctx, const v1::CompleteRequest* req, v1::CompleteResponse*) override {
    std::lock_guard<std::mutex> lock(mu);
    if (req->attempt() != current_attempt) return {grpc::StatusCode::FAILED_PRECONDITION, "stale"};
    if (internal_completes) {
      ++complete_calls;
      return {grpc::StatusCode::INTERNAL, "column \"selected_epoch\" does not exist"};
    }
    calls.push_back("Complete");
    completes.push_back(*req);
    return grpc::Status::OK;
  }
  grpc::Status Fail(grpc::ServerContext* ctx, const v1::FailRequest* req, v1::FailResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back("Fail");
    fails.push_back(*req);
    resp->set_will_retry(req->retryable());
    return grpc::Status::OK;
  }

  // Jobs in `finished` (and, with unknown_obsolete, every job not in `jobs`)
  // are obsolete; UNIMPLEMENTED with obsolete_unimplemented (an older
  // coordinator).
  grpc::Status ObsoleteJobs(grpc::ServerContext* ctx, const v1::ObsoleteJobsRequest* req,
                            v1::ObsoleteJobsResponse* resp) override {
    if (!Authorised(ctx)) return {grpc::StatusCode::UNAUTHENTICATED, "bad token"};
    std::lock_guard<std::mutex> lock(mu);
    ++obsolete_calls;
    if (obsolete_unimplemented) return {grpc::StatusCode::UNIMPLEMENTED, "no ObsoleteJobs here"};
    for (const int64_t id : req->job_ids()) {
      if (finished.count(id) != 0) resp->add_obsolete_job_ids(id);
    }
    return grpc::Status::OK;
  }

  bool Authorised(grpc::ServerContext* ctx) {
    const auto& md = ctx->client_metadata();
    auto it = md.find("authorization");
    const bool ok = it != md.end() && std::string(it->second.data(), it->second.size()) == "Bearer " + token;
    if (!ok) ++unauthorised;
    return ok;
  }

  std::mutex mu;
  std::string token = "secret";
  std::deque<v1::JobAssignment> jobs;
  int current_attempt = 0;
  int unavailable_reports = 0;
  int unavailable_leases = 0;
  bool fence = false;
  bool fence_heartbeats = false;  // every Heartbeat answers FAILED_PRECONDITION (another attempt owns the job)
  bool cancel = false;
  int reject_reports_from_epoch = 0;  // > 0: reports from this epoch on are refused as invalid
  int rejected_reports = 0;
  bool internal_completes = false;  // every Complete answers INTERNAL (a deterministic server error)
  int complete_calls = 0;
  v1::StopReason stop_reason = v1::STOP_REASON_CANCELLED;
  int leases = 0, heartbeats = 0, conflicts = 0, unauthorised = 0;
  std::string registered_name, registered_kind;
  std::map<int, v1::EpochMetrics> stored;
  std::vector<int> arrival;
  std::map<int64_t, std::vector<int>> epochs_by_job;  // arrival order per job
  std::vector<int64_t> free_memory_seen;              // LeaseRequest.free_memory_mb, in order
  std::vector<v1::CompleteRequest> completes;
  std::vector<v1::FailRequest> fails;
  std::vector<std::string> calls;  // ReportEpochs (stored), Complete (stored) and Fail, in order of arrival
  std::vector<int> report_sizes;   // epochs per stored ReportEpochs
  std::function<void(int)> on_epoch_stored;
  std::set<int64_t> finished;          // ObsoleteJobs lists these
  bool obsolete_unimplemented = false;
  int obsolete_calls = 0;
};

// Serves a service (the fake) on a loopback port of its own until Shutdown
// or destruction.
class LoopbackServer {
 public:
  explicit LoopbackServer(grpc::Service* service) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
  }
  ~LoopbackServer() { Shutdown(); }
  bool ok() const { return server_ != nullptr; }
  void Shutdown() {
    if (server_) server_->Shutdown();
  }
  std::shared_ptr<grpc::Channel> Channel() const {
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace moe4::worker::testing

#endif  // MOE4_TESTS_WORKER_FAKE_COORDINATOR_H_
