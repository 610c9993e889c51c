#include "worker/agent/coordinator_client.h"

#include <arpa/inet.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "spdlog/spdlog.h"

namespace moe4::worker {
namespace {

constexpr std::chrono::milliseconds kHeartbeatTimeout{5000};

}  // namespace

std::string GrpcTarget(const std::string& target) {
  if (target.find(':') == std::string::npos) return target;
  // Already a gRPC URI ("dns:", "ipv4:", "unix:", ...): the host part of a
  // plain host:port never contains a colon unless it is a bracketed IPv6.
  const size_t colon = target.rfind(':');
  std::string host = target.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    in6_addr v6{};
    return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6) == 1 ? "ipv6:" + target : target;
  }
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 ? "ipv4:" + target : target;
}

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
  // Reconnect quickly after a coordinator restart or a reset connection: the
  // lease runs while the channel is down. gRPC's default backoff (1 s,
  // growing 1.6x per failed attempt to 120 s) could outlast a short lease;
  // at most 2 s between attempts costs a dead coordinator one connection
  // attempt per worker every 2 s.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // After a failed connection the channel asks its resolver again, and the
  // DNS resolver waits out 30 s between resolutions by default: after a
  // 0.5 s connection reset the worker stayed cut off for 3-17 s
  // (chaos.net_reset), longer than a short lease. A literal address needs no
  // resolver at all (GrpcTarget); for a host name, re-resolve within 1 s.
  args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 1000);
  // Its own subchannels: a replacement channel (CoordinatorClient) must not
  // inherit a shared subchannel stuck in backoff.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // A connection that dies silently (no RST) is noticed by keepalive pings.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  return grpc::CreateCustomChannel(GrpcTarget(options.target), credentials, args);
}

CoordinatorClient::CoordinatorClient(ChannelFactory factory, std::string token,
                                     std::chrono::milliseconds rpc_timeout)
    : CoordinatorClient(factory(), std::move(token), rpc_timeout) {
  factory_ = std::move(factory);
}

CoordinatorClient::CoordinatorClient(std::shared_ptr<grpc::Channel> channel, std::string token,
                                     std::chrono::milliseconds rpc_timeout)
    : channel_(std::move(channel)),
      stub_(moe4::v1::WorkerService::NewStub(channel_)),
      token_(std::move(token)),
      rpc_timeout_(rpc_timeout) {}

void CoordinatorClient::Prepare(grpc::ClientContext* context, std::chrono::milliseconds timeout) const {
  if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  context->set_deadline(std::chrono::system_clock::now() + timeout);
}

std::shared_ptr<moe4::v1::WorkerService::Stub> CoordinatorClient::CurrentStub() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stub_;
}

// Calls fail at once while the channel waits out its reconnect backoff, and
// after a reset connection gRPC 1.51's channel was seen to stay in that state
// for 9-17 s now and then (chaos.net_reset), longer than a short lease. The
// agent retries on its own schedule (heartbeats every third of the lease,
// reports with backoff), so: every UNAVAILABLE lets the next call connect at
// once, and a third one in a row (at most once a second) replaces the channel
// with a fresh one, which connects on its first call. Calls in flight finish
// on the old channel, which their stub keeps alive.
grpc::Status CoordinatorClient::AfterCall(grpc::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) {
    consecutive_unavailable_ = 0;
    return status;
  }
  grpc::experimental::ChannelResetConnectionBackoff(channel_.get());
  const auto now = std::chrono::steady_clock::now();
  if (factory_ && ++consecutive_unavailable_ >= 3 && now - last_replaced_ >= std::chrono::seconds(1)) {
    consecutive_unavailable_ = 0;
    last_replaced_ = now;
    try {
      channel_ = factory_();
      stub_ = moe4::v1::WorkerService::NewStub(channel_);
      spdlog::info("coordinator unreachable 3 times in a row: reconnecting on a fresh channel");
    } catch (const std::exception& e) {  // the CA file went away: keep the old channel
      spdlog::warn("cannot open a fresh channel to the coordinator: {}", e.what());
    }
  }
  return status;
}

// Heartbeats get a short deadline: one stuck in a dead connection would hold
// the heartbeat thread (and the end of the job, which joins it) for the full
// RPC timeout, and the next beat retries anyway.
#define MOE4_UNARY(Method, Request, Response, timeout)                                                     \
  grpc::Status CoordinatorClient::Method(const moe4::v1::Request& request, moe4::v1::Response* response) { \
    grpc::ClientContext context;                                                                           \
    Prepare(&context, timeout);                                                                            \
    return AfterCall(CurrentStub()->Method(&context, request, response));                                  \
  }

MOE4_UNARY(Register, RegisterRequest, RegisterResponse, rpc_timeout_)
MOE4_UNARY(Lease, LeaseRequest, LeaseResponse, rpc_timeout_)
MOE4_UNARY(Heartbeat, HeartbeatRequest, HeartbeatResponse, std::min(rpc_timeout_, kHeartbeatTimeout))
MOE4_UNARY(ReportEpochs, ReportEpochsRequest, ReportEpochsResponse, rpc_timeout_)
MOE4_UNARY(Complete, CompleteRequest, CompleteResponse, rpc_timeout_)
MOE4_UNARY(Fail, FailRequest, FailResponse, rpc_timeout_)
MOE4_UNARY(ObsoleteJobs, ObsoleteJobsRequest, ObsoleteJobsResponse, rpc_timeout_)
#undef MOE4_UNARY

RpcErrorClass ClassifyRpcError(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
      return RpcErrorClass::kTransient;
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
      return RpcErrorClass::kSuspect;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::NOT_FOUND:
      return RpcErrorClass::kFenced;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return RpcErrorClass::kAuth;
    default:
      return RpcErrorClass::kPermanent;
  }
}

const char* RpcErrorClassName(RpcErrorClass error_class) {
  switch (error_class) {
    case RpcErrorClass::kTransient: return "transient";
    case RpcErrorClass::kSuspect: return "suspect";
    case RpcErrorClass::kFenced: return "fenced";
    case RpcErrorClass::kAuth: return "unauthorised";
    case RpcErrorClass::kPermanent: return "permanent";
  }
  return "unknown";
}

bool IsTransient(const grpc::Status& status) {
  const RpcErrorClass c = ClassifyRpcError(status);
  return c == RpcErrorClass::kTransient || c == RpcErrorClass::kSuspect;
}

std::string DescribeRpcError(const grpc::Status& status) {
  return std::to_string(static_cast<int>(status.error_code())) + " " + status.error_message();
}

}  // namespace moe4::worker
