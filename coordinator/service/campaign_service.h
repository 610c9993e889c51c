// CampaignService: the gRPC adapter moe4ctl calls (admin token).
//
// Translates protos to planner and JobStore calls. Synchronous grpc::Service on
// purpose (handlers block on Postgres; see worker_service.h). Watch holds its
// handler thread while it streams, so concurrent watches are capped. Safe for
// concurrent use.
#pragma once

#include <atomic>

#include "absl/time/time.h"
#include "common/campaign_spec.h"
#include "coordinator/service/rpc_runner.h"
#include "coordinator/store/job_store.h"
#include "moe4/v1/moe4.grpc.pb.h"

namespace moe4::coordinator {

struct CampaignServiceOptions {
  SpecLimits limits;                                  // bounds on submitted specs
  absl::Duration watch_poll = absl::Seconds(1);       // Watch re-reads the campaign this often
  int max_watches = 64;                               // concurrent Watch streams
};

class CampaignServiceImpl final : public moe4::v1::CampaignService::Service {
 public:
  // `store` and `runner` must outlive the service.
  CampaignServiceImpl(JobStore& store, const RpcRunner& runner, CampaignServiceOptions options);

  // Ends running Watch streams (they return OK) and refuses new ones; called
  // before the server shuts down so that shutdown does not wait on them.
  void Stop() { stopping_ = true; }

  grpc::Status Submit(grpc::ServerContext* ctx, const moe4::v1::SubmitRequest* req,
                      moe4::v1::SubmitResponse* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const moe4::v1::ListRequest* req,
                    moe4::v1::ListResponse* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx, const moe4::v1::GetRequest* req,
                   moe4::v1::GetResponse* resp) override;
  grpc::Status Cancel(grpc::ServerContext* ctx, const moe4::v1::CancelRequest* req,
                      moe4::v1::CancelResponse* resp) override;
  grpc::Status Pause(grpc::ServerContext* ctx, const moe4::v1::PauseRequest* req,
                     moe4::v1::PauseResponse* resp) override;
  grpc::Status Resume(grpc::ServerContext* ctx, const moe4::v1::ResumeRequest* req,
                      moe4::v1::ResumeResponse* resp) override;
  grpc::Status Watch(grpc::ServerContext* ctx, const moe4::v1::WatchRequest* req,
                     grpc::ServerWriter<moe4::v1::WatchResponse>* writer) override;
  grpc::Status Leaderboard(grpc::ServerContext* ctx, const moe4::v1::LeaderboardRequest* req,
                           moe4::v1::LeaderboardResponse* resp) override;
  grpc::Status FamilyStats(grpc::ServerContext* ctx, const moe4::v1::FamilyStatsRequest* req,
                           moe4::v1::FamilyStatsResponse* resp) override;
  grpc::Status Coverage(grpc::ServerContext* ctx, const moe4::v1::CoverageRequest* req,
                        moe4::v1::CoverageResponse* resp) override;
  grpc::Status ListWorkers(grpc::ServerContext* ctx, const moe4::v1::ListWorkersRequest* req,
                           moe4::v1::ListWorkersResponse* resp) override;
  grpc::Status ListJobs(grpc::ServerContext* ctx, const moe4::v1::ListJobsRequest* req,
                        moe4::v1::ListJobsResponse* resp) override;
  grpc::Status GetJob(grpc::ServerContext* ctx, const moe4::v1::GetJobRequest* req,
                      moe4::v1::GetJobResponse* resp) override;
  grpc::Status PairStats(grpc::ServerContext* ctx, const moe4::v1::PairStatsRequest* req,
                         moe4::v1::PairStatsResponse* resp) override;
  grpc::Status Ecology(grpc::ServerContext* ctx, const moe4::v1::EcologyRequest* req,
                       moe4::v1::EcologyResponse* resp) override;

 private:
  // The Get answer: the store's status plus why pending jobs wait.
  absl::StatusOr<moe4::v1::GetResponse> Snapshot(int64_t campaign_id);

  JobStore& store_;
  const RpcRunner& runner_;
  const CampaignServiceOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> watches_{0};
};

}  // namespace moe4::coordinator
