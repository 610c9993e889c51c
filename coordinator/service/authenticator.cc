#include "coordinator/service/authenticator.h"

#include <grpcpp/server_context.h>

#include <string_view>

#include "common/auth.h"

namespace moe4::coordinator {

Authenticator::Authenticator(std::string admin_token, std::string worker_token)
    : admin_token_(std::move(admin_token)), worker_token_(std::move(worker_token)) {}

absl::Status Authenticator::Authorize(const grpc::ServerContextBase& ctx, Scope scope) const {
  const auto& md = ctx.client_metadata();
  auto it = md.find(std::string(kAuthMetadataKey));
  if (it == md.end()) {
    return absl::UnauthenticatedError("missing \"authorization: Bearer <token>\" metadata");
  }
  const std::string_view token =
      TokenFromBearer(std::string_view(it->second.data(), it->second.size()));
  if (token.empty()) {
    return absl::UnauthenticatedError("authorization metadata is not a bearer token");
  }
  // Both comparisons always run, so timing does not say which token matched.
  const bool admin = TokensEqual(token, admin_token_);
  const bool worker = TokensEqual(token, worker_token_);
  if (!admin && !worker) return absl::UnauthenticatedError("invalid token");
  if (scope == Scope::kCampaignService && !admin) {
    return absl::PermissionDeniedError("a worker token may not call CampaignService");
  }
  return absl::OkStatus();
}

}  // namespace moe4::coordinator
