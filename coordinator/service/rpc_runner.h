// The one place every RPC passes through at the service edge: authorisation,
// the handler body, latency and status-code metrics, logging of failures, and
// the absl::Status -> grpc::Status conversion (common/status.h). Safe for
// concurrent use (holds references to thread-safe objects only).
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/strings/string_view.h"

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "coordinator/metrics/metrics.h"
#include "coordinator/service/authenticator.h"

namespace moe4::coordinator {

class RpcRunner {
 public:
  // Both must outlive the runner.
  RpcRunner(const Authenticator& auth, Metrics& metrics) : auth_(auth), metrics_(metrics) {}

  // `method` names the RPC in metrics and logs ("WorkerService/Lease").
  grpc::Status Run(grpc::ServerContext* ctx, absl::string_view method, Scope scope,
                   absl::FunctionRef<absl::Status()> body) const;

  // The two halves of Run for a stream on gRPC's callback API, whose
  // handler returns before the stream ends: authorise when it opens, and
  // record and convert its status when it ends (`seconds` since it opened).
  absl::Status Authorize(const grpc::ServerContextBase& ctx, Scope scope) const {
    return auth_.Authorize(ctx, scope);
  }
  grpc::Status Finished(const grpc::ServerContextBase& ctx, absl::string_view method, const absl::Status& status,
                        double seconds) const;

  Metrics& metrics() const { return metrics_; }

 private:
  const Authenticator& auth_;
  Metrics& metrics_;
};

}  // namespace moe4::coordinator
