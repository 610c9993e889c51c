// The worker's side of WorkerService: one channel, bearer-token metadata and
// a deadline on every call. Calls are synchronous and return grpc::Status
// untouched, so the agent decides what UNAVAILABLE or FAILED_PRECONDITION
// mean. Safe for concurrent use (gRPC stubs are thread-safe, the channel is
// swapped under a mutex); the heartbeat thread and the agent share one client.
#ifndef MOE4_WORKER_AGENT_COORDINATOR_CLIENT_H_
#define MOE4_WORKER_AGENT_COORDINATOR_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "moe4/v1/moe4.grpc.pb.h"

namespace moe4::worker {

struct CoordinatorClientOptions {
  std::string target = "127.0.0.1:50051";                           // host:port of the coordinator
  std::string token;                                                // bearer token; "" sends no header
  bool tls = false;                                                 // TLS with the system roots
  std::string tls_ca_file;                                          // TLS with this root CA (implies tls)
  std::chrono::milliseconds rpc_timeout{std::chrono::seconds(20)};  // per call
};

// The gRPC target for a --coordinator value: "ipv4:" or "ipv6:" before a
// literal address (host:port or [v6]:port), so no DNS resolver stands between
// a failed connection and the next attempt; anything else unchanged.
std::string GrpcTarget(const std::string& target);

// Opens the channel the options describe; throws std::runtime_error if the
// CA file cannot be read.
std::shared_ptr<grpc::Channel> MakeCoordinatorChannel(const CoordinatorClientOptions& options);

class CoordinatorClient {
 public:
  using ChannelFactory = std::function<std::shared_ptr<grpc::Channel>()>;

  // One channel for the client's life.
  CoordinatorClient(std::shared_ptr<grpc::Channel> channel, std::string token, std::chrono::milliseconds rpc_timeout);
  // A channel from `factory`, replaced by a fresh one after calls keep failing
  // UNAVAILABLE (see the .cc): what moe4-worker uses.
  CoordinatorClient(ChannelFactory factory, std::string token, std::chrono::milliseconds rpc_timeout);

  grpc::Status Register(const moe4::v1::RegisterRequest& request, moe4::v1::RegisterResponse* response);
  grpc::Status Lease(const moe4::v1::LeaseRequest& request, moe4::v1::LeaseResponse* response);
  grpc::Status Heartbeat(const moe4::v1::HeartbeatRequest& request, moe4::v1::HeartbeatResponse* response);
  grpc::Status ReportEpochs(const moe4::v1::ReportEpochsRequest& request, moe4::v1::ReportEpochsResponse* response);
  grpc::Status Complete(const moe4::v1::CompleteRequest& request, moe4::v1::CompleteResponse* response);
  grpc::Status Fail(const moe4::v1::FailRequest& request, moe4::v1::FailResponse* response);
  grpc::Status ObsoleteJobs(const moe4::v1::ObsoleteJobsRequest& request, moe4::v1::ObsoleteJobsResponse* response);

 private:
  void Prepare(grpc::ClientContext* context, std::chrono::milliseconds timeout) const;
  std::shared_ptr<moe4::v1::WorkerService::Stub> CurrentStub() const;
  // After every call: on UNAVAILABLE resets the channel's reconnect backoff,
  // and after repeated ones replaces the channel (see the .cc).
  grpc::Status AfterCall(grpc::Status status);

  ChannelFactory factory_;  // empty: the channel is never replaced; set once in the constructor
  mutable std::mutex mu_;
  std::shared_ptr<grpc::Channel> channel_;                 // guarded by mu_
  std::shared_ptr<moe4::v1::WorkerService::Stub> stub_;   // guarded by mu_
  int consecutive_unavailable_ = 0;                        // guarded by mu_
  std::chrono::steady_clock::time_point last_replaced_{};  // guarded by mu_
  const std::string token_;
  const std::chrono::milliseconds rpc_timeout_;
};

// What a failed WorkerService call means for the worker, by status code.
enum class RpcErrorClass {
  kTransient,  // the coordinator or network is down or overloaded (UNAVAILABLE,
               // DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED): retry for as
               // long as it takes, with backoff
  kSuspect,    // INTERNAL, UNKNOWN: an outage's symptom or a deterministic
               // server error (a schema mismatch in a rolling upgrade):
               // retried within a budget, then treated as permanent
  kFenced,     // FAILED_PRECONDITION, NOT_FOUND: another attempt owns the job
  kAuth,       // UNAUTHENTICATED, PERMISSION_DENIED: the token is refused
  kPermanent,  // anything else (INVALID_ARGUMENT, OUT_OF_RANGE, ...): the
               // same request can never succeed
};
RpcErrorClass ClassifyRpcError(const grpc::Status& status);
const char* RpcErrorClassName(RpcErrorClass error_class);

// True for statuses worth retrying with backoff (kTransient and kSuspect).
bool IsTransient(const grpc::Status& status);

// "<numeric code> <message>", as log lines and Fail reasons quote a status.
std::string DescribeRpcError(const grpc::Status& status);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_AGENT_COORDINATOR_CLIENT_H_
