// CampaignService: the gRPC adapter moe4ctl calls (admin token).
//
// Translates protos to planner and JobStore calls. Synchronous grpc::Service on
// purpose (handlers block on Postgres; see worker_service.h), except Watch,
// which streams on the callback API through a WatchHub (watch_hub.h) so that
// an open stream holds no thread. Safe for concurrent use.
#pragma once

#include <memory>

#include "absl/time/time.h"
#include "common/campaign_spec.h"
#include "coordinator/service/rpc_runner.h"
#include "coordinator/service/watch_hub.h"
#include "coordinator/store/change_listener.h"
#include "coordinator/store/job_store.h"
#include "moe4/v1/moe4.grpc.pb.h"

namespace moe4::coordinator {

struct CampaignServiceOptions {
  SpecLimits limits;                                  // bounds on submitted specs
  absl::Duration watch_poll = absl::Seconds(1);       // Watch re-reads without notifications
  absl::Duration watch_resync = absl::Seconds(1);     // ... and with them (epochs notify nothing)
  int max_watches = 4096;                             // concurrent Watch streams
};

class CampaignServiceImpl final
    : public moe4::v1::CampaignService::WithCallbackMethod_Watch<moe4::v1::CampaignService::Service> {
 public:
  // `store`, `runner` and `listener` (null: Watch polls) must outlive the
  // service.
  CampaignServiceImpl(JobStore& store, const RpcRunner& runner, CampaignServiceOptions options,
                      ChangeListener* listener = nullptr);
  ~CampaignServiceImpl() override;

  // Ends running Watch streams (they return OK) and refuses new ones; called
  // before the server shuts down so that shutdown does not wait on them.
  void Stop() { watches_->Stop(); }

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
  grpc::ServerWriteReactor<moe4::v1::WatchResponse>* Watch(grpc::CallbackServerContext* ctx,
                                                           const moe4::v1::WatchRequest* req) override;
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
  std::unique_ptr<WatchHub> watches_;
};

}  // namespace moe4::coordinator
