#include "coordinator/service/rpc_runner.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "common/status.h"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {
namespace {

// The status message travels in the grpc-message trailer, percent-encoded
// (up to 3 bytes per byte), and clients refuse metadata above 8 KiB by
// default: a longer message (a spec with hundreds of problems) would reach
// the client as "received initial metadata size exceeds limit" instead of
// the problems. Keep whole lines up to this many bytes, then say what was cut.
constexpr size_t kMaxStatusMessageBytes = 2048;

absl::Status BoundedForWire(const absl::Status& status) {
  const absl::string_view message = status.message();
  if (message.size() <= kMaxStatusMessageBytes) return status;
  size_t keep = message.rfind('\n', kMaxStatusMessageBytes);
  if (keep == absl::string_view::npos || keep == 0) keep = kMaxStatusMessageBytes;
  const absl::string_view rest = message.substr(keep);
  const size_t more_lines = static_cast<size_t>(std::count(rest.begin(), rest.end(), '\n'));
  std::string bounded(message.substr(0, keep));
  bounded += more_lines > 0 ? "\n... and " + std::to_string(more_lines) + " more lines"
                            : "... (" + std::to_string(rest.size()) + " more bytes)";
  return absl::Status(status.code(), bounded);
}

}  // namespace

grpc::Status RpcRunner::Run(grpc::ServerContext* ctx, absl::string_view method, Scope scope,
                            absl::FunctionRef<absl::Status()> body) const {
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = auth_.Authorize(*ctx, scope);
  if (status.ok()) status = body();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return Finished(*ctx, method, status, seconds);
}

grpc::Status RpcRunner::Finished(const grpc::ServerContextBase& ctx, absl::string_view method,
                                 const absl::Status& status, double seconds) const {
  metrics_.ObserveRpc(method, absl::StatusCodeToString(status.code()), seconds);
  if (!status.ok()) {
    // Server-side trouble is worth a warning; a client's mistake is not.
    const bool ours = absl::IsInternal(status) || absl::IsUnavailable(status) ||
                      absl::IsDeadlineExceeded(status) || absl::IsUnknown(status);
    if (ours) {
      spdlog::warn("{} from {}: {}", std::string(method), ctx.peer(), status.ToString());
    } else {
      spdlog::debug("{} from {}: {}", std::string(method), ctx.peer(), status.ToString());
    }
  }
  return ToGrpcStatus(BoundedForWire(status));
}

}  // namespace moe4::coordinator
