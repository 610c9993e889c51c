// A coordinator serving on loopback over a fresh database, with stubs and
// small call helpers. One per test; not thread-safe except where the helpers
// only use the (thread-safe) stubs.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <string>

#include "common/auth.h"
#include "coordinator/server/coordinator_server.h"
#include "moe4/v1/moe4.grpc.pb.h"
#include "tests/coordinator/test_support.h"

namespace moe4::coordinator {

inline constexpr char kAdminToken[] = "admin-token-for-tests";
inline constexpr char kWorkerToken[] = "worker-token-for-tests";

// GET http://127.0.0.1:port/path -> (status, body).
inline std::pair<int, std::string> HttpGet(int port, const std::string& path) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  http::request<http::empty_body> req{http::verb::get, path, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(socket, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(socket, buf, res);
  return {static_cast<int>(res.result_int()), res.body()};
}

class ServiceFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << db_.error();
    auto s = CoordinatorServer::Start(Options());
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    Connect();
  }

  void TearDown() override { server_.reset(); }

  CoordinatorOptions Options() const {
    CoordinatorOptions o;
    o.listen = "127.0.0.1:0";
    o.http_listen = "127.0.0.1:0";
    o.db_url = db_.url();
    o.db_pool = 8;
    o.db_wait = absl::Seconds(5);
    o.lease = absl::Seconds(30);
    o.reaper_interval = absl::Milliseconds(100);
    o.backoff_base = absl::ZeroDuration();
    o.backoff_max = absl::ZeroDuration();
    o.watch_poll = absl::Milliseconds(100);
    o.admin_token = kAdminToken;
    o.worker_token = kWorkerToken;
    o.instance_id = "test-coordinator";
    return o;
  }

  // isolated: a connection of its own. gRPC otherwise shares one connection
  // (subchannel) among all channels with the same target and arguments, so a
  // test that makes the server drop a connection would break the others.
  static std::shared_ptr<grpc::Channel> ChannelTo(int port, bool isolated = false) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    args.SetMaxSendMessageSize(64 * 1024 * 1024);
    if (isolated) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials(), args);
  }

  void Connect() {
    channel_ = ChannelTo(server_->grpc_port());
    worker_ = moe4::v1::WorkerService::NewStub(channel_);
    campaign_ = moe4::v1::CampaignService::NewStub(channel_);
  }

  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata(std::string(kAuthMetadataKey), BearerValue(token));
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }

  grpc::Status Submit(const std::string& yaml, bool dry_run, moe4::v1::SubmitResponse* resp) {
    moe4::v1::SubmitRequest req;
    req.set_spec_yaml(yaml);
    req.set_dry_run(dry_run);
    auto ctx = Context(kAdminToken);
    return campaign_->Submit(ctx.get(), req, resp);
  }

  int64_t Register(const std::string& name, moe4::v1::WorkerService::Stub* stub = nullptr) {
    moe4::v1::RegisterRequest req;
    req.set_name(name);
    req.set_device_kind("cpu");
    req.set_threads(2);
    moe4::v1::RegisterResponse resp;
    auto ctx = Context(kWorkerToken);
    grpc::Status s = (stub ? stub : worker_.get())->Register(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.worker_id();
  }

  grpc::Status Lease(int64_t worker, moe4::v1::LeaseResponse* resp,
                     moe4::v1::WorkerService::Stub* stub = nullptr) {
    resp->Clear();
    moe4::v1::LeaseRequest req;
    req.set_worker_id(worker);
    auto ctx = Context(kWorkerToken);
    return (stub ? stub : worker_.get())->Lease(ctx.get(), req, resp);
  }

  grpc::Status Heartbeat(int64_t worker, const moe4::v1::JobAssignment& job,
                         moe4::v1::HeartbeatResponse* resp,
                         moe4::v1::WorkerService::Stub* stub = nullptr) {
    moe4::v1::HeartbeatRequest req;
    req.set_worker_id(worker);
    req.set_job_id(job.job_id());
    req.set_attempt(job.attempt());
    req.set_epoch(1);
    auto ctx = Context(kWorkerToken);
    return (stub ? stub : worker_.get())->Heartbeat(ctx.get(), req, resp);
  }

  grpc::Status ReportEpoch(int64_t worker, const moe4::v1::JobAssignment& job, int epoch,
                           double acc, moe4::v1::WorkerService::Stub* stub = nullptr) {
    moe4::v1::ReportEpochsRequest req;
    req.set_worker_id(worker);
    req.set_job_id(job.job_id());
    req.set_attempt(job.attempt());
    *req.add_epochs() = testing::Epoch(epoch, job.families_size(), acc);
    moe4::v1::ReportEpochsResponse resp;
    auto ctx = Context(kWorkerToken);
    return (stub ? stub : worker_.get())->ReportEpochs(ctx.get(), req, &resp);
  }

  grpc::Status CompleteJob(int64_t worker, const moe4::v1::JobAssignment& job, double acc,
                           moe4::v1::WorkerService::Stub* stub = nullptr) {
    moe4::v1::CompleteRequest req;
    req.set_worker_id(worker);
    req.set_job_id(job.job_id());
    req.set_attempt(job.attempt());
    req.set_final_test_accuracy(acc);
    req.set_best_test_accuracy(acc);
    req.set_parameter_count(1234);
    req.set_train_seconds(1);
    moe4::v1::CompleteResponse resp;
    auto ctx = Context(kWorkerToken);
    return (stub ? stub : worker_.get())->Complete(ctx.get(), req, &resp);
  }

  testing::TestDatabase db_;
  std::unique_ptr<CoordinatorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<moe4::v1::WorkerService::Stub> worker_;
  std::unique_ptr<moe4::v1::CampaignService::Stub> campaign_;
};

}  // namespace moe4::coordinator
