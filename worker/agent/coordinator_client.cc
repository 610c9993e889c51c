#include "worker/agent/coordinator_client.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace moe4::worker {
namespace {

constexpr std::chrono::milliseconds kHeartbeatTimeout{5000};

}  // namespace

std::shared_ptr<grpc::Channel> MakeCoordinatorChannel(const CoordinatorClientOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (!options.tls_ca_file.empty()) {
    std::ifstream in(options.tls_ca_file);
    if (!in) {
      throw std::runtime_error("--tls-ca " + options.tls_ca_file + ": cannot read");
    }
    std::stringstream pem;
    pem << in.rdbuf();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pem.str();
    credentials = grpc::SslCredentials(ssl);
  } else if (options.tls) {
    credentials = grpc::SslCredentials(grpc::SslCredentialsOptions());
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  // Reconnect quickly after a coordinator restart.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  return grpc::CreateCustomChannel(options.target, credentials, args);
}

CoordinatorClient::CoordinatorClient(std::shared_ptr<grpc::Channel> channel, std::string token,
                                     std::chrono::milliseconds rpc_timeout)
    : stub_(moe4::v1::WorkerService::NewStub(std::move(channel))),
      token_(std::move(token)),
      rpc_timeout_(rpc_timeout) {}

void CoordinatorClient::Prepare(grpc::ClientContext* context, std::chrono::milliseconds timeout) const {
  if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  context->set_deadline(std::chrono::system_clock::now() + timeout);
}

// Heartbeats get a short deadline: one stuck in a dead connection would hold
// the heartbeat thread (and the end of the job, which joins it) for the full
// RPC timeout, and the next beat retries anyway.
#define MOE4_UNARY(Method, Request, Response, timeout)                                                     \
  grpc::Status CoordinatorClient::Method(const moe4::v1::Request& request, moe4::v1::Response* response) { \
    grpc::ClientContext context;                                                                           \
    Prepare(&context, timeout);                                                                            \
    return stub_->Method(&context, request, response);                                                     \
  }

MOE4_UNARY(Register, RegisterRequest, RegisterResponse, rpc_timeout_)
MOE4_UNARY(Lease, LeaseRequest, LeaseResponse, rpc_timeout_)
MOE4_UNARY(Heartbeat, HeartbeatRequest, HeartbeatResponse, std::min(rpc_timeout_, kHeartbeatTimeout))
MOE4_UNARY(ReportEpochs, ReportEpochsRequest, ReportEpochsResponse, rpc_timeout_)
MOE4_UNARY(Complete, CompleteRequest, CompleteResponse, rpc_timeout_)
MOE4_UNARY(Fail, FailRequest, FailResponse, rpc_timeout_)
#undef MOE4_UNARY

bool IsTransient(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
      return true;
    default:
      return false;
  }
}

}  // namespace moe4::worker
