// Bearer-token authorisation of every RPC.
//
// Two tokens: the worker token may call WorkerService only; the admin token may
// call everything. A call without a bearer credential, or with an unknown one,
// is UNAUTHENTICATED; a worker token on CampaignService is PERMISSION_DENIED.
// Tokens are compared in constant time (common/auth.h). Immutable after
// construction; safe for concurrent use.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace grpc {
class ServerContextBase;
}

namespace moe4::coordinator {

enum class Scope { kWorkerService, kCampaignService };

class Authenticator {
 public:
  Authenticator(std::string admin_token, std::string worker_token);

  absl::Status Authorize(const grpc::ServerContextBase& ctx, Scope scope) const;

 private:
  const std::string admin_token_;
  const std::string worker_token_;
};

}  // namespace moe4::coordinator
