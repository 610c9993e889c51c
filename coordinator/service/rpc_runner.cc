#include "coordinator/service/rpc_runner.h"

#include <chrono>

#include "common/status.h"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {

grpc::Status RpcRunner::Run(grpc::ServerContext* ctx, absl::string_view method, Scope scope,
                            absl::FunctionRef<absl::Status()> body) const {
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = auth_.Authorize(*ctx, scope);
  if (status.ok()) status = body();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.ObserveRpc(method, absl::StatusCodeToString(status.code()), seconds);
  if (!status.ok()) {
    // Server-side trouble is worth a warning; a client's mistake is not.
    const bool ours = absl::IsInternal(status) || absl::IsUnavailable(status) ||
                      absl::IsDeadlineExceeded(status) || absl::IsUnknown(status);
    if (ours) {
      spdlog::warn("{} from {}: {}", std::string(method), ctx->peer(), status.ToString());
    } else {
      spdlog::debug("{} from {}: {}", std::string(method), ctx->peer(), status.ToString());
    }
  }
  return ToGrpcStatus(status);
}

}  // namespace moe4::coordinator
