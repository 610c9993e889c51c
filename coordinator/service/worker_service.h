// WorkerService: the gRPC adapter the moe4-worker daemons call.
//
// A thin translation from protos to JobStore calls. It uses the synchronous
// grpc::Service API on purpose: every handler blocks on Postgres anyway, and
// gRPC's sync server gives each call a thread from its pool, which the
// connection pool then bounds. Safe for concurrent use.
#pragma once

#include "absl/time/time.h"
#include "coordinator/service/rpc_runner.h"
#include "coordinator/store/job_store.h"
#include "moe4/v1/moe4.grpc.pb.h"

namespace moe4::coordinator {

struct WorkerServiceOptions {
  absl::Duration lease = absl::Seconds(60);  // lease granted and extended by heartbeats
  int retry_after_ms = 1000;                 // idle workers poll Lease this often
};

class WorkerServiceImpl final : public moe4::v1::WorkerService::Service {
 public:
  // `store` and `runner` must outlive the service.
  WorkerServiceImpl(JobStore& store, const RpcRunner& runner, WorkerServiceOptions options);

  grpc::Status Register(grpc::ServerContext* ctx, const moe4::v1::RegisterRequest* req,
                        moe4::v1::RegisterResponse* resp) override;
  grpc::Status Lease(grpc::ServerContext* ctx, const moe4::v1::LeaseRequest* req,
                     moe4::v1::LeaseResponse* resp) override;
  grpc::Status Heartbeat(grpc::ServerContext* ctx, const moe4::v1::HeartbeatRequest* req,
                         moe4::v1::HeartbeatResponse* resp) override;
  grpc::Status ReportEpochs(grpc::ServerContext* ctx, const moe4::v1::ReportEpochsRequest* req,
                            moe4::v1::ReportEpochsResponse* resp) override;
  grpc::Status Complete(grpc::ServerContext* ctx, const moe4::v1::CompleteRequest* req,
                        moe4::v1::CompleteResponse* resp) override;
  grpc::Status Fail(grpc::ServerContext* ctx, const moe4::v1::FailRequest* req,
                    moe4::v1::FailResponse* resp) override;
  grpc::Status ObsoleteJobs(grpc::ServerContext* ctx, const moe4::v1::ObsoleteJobsRequest* req,
                            moe4::v1::ObsoleteJobsResponse* resp) override;

 private:
  // Counts and logs a fenced (stale-attempt) write.
  absl::Status NoteFenced(absl::Status s, absl::string_view what, int64_t job_id, int attempt);

  JobStore& store_;
  const RpcRunner& runner_;
  const WorkerServiceOptions options_;
};

}  // namespace moe4::coordinator
