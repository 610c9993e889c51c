#include "ctl/commands/rpc.h"

#include <iostream>


namespace moe4::ctl {
namespace {

int ExitCodeForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return kExitUsage;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded: return kExitUnavailable;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied: return kExitAuth;
    default: return kExitFailed;
  }
}

}  // namespace

int ExitCodeFor(const absl::Status& status) { return ExitCodeForCode(status.code()); }

int ReportRpcError(const grpc::Status& status, const std::string& what) {
  std::cerr << "moe4ctl: " << what << ": " << status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) std::cerr << " (is the coordinator running?)";
  std::cerr << "\n";
  return ExitCodeForCode(static_cast<absl::StatusCode>(status.error_code()));
}

int ReportConnectionError(const absl::Status& status) {
  std::cerr << "moe4ctl: " << status.message() << "\n";
  return ExitCodeFor(status);
}

CampaignClient::CampaignClient(Connection connection)
    : connection_(std::move(connection)), stub_(moe4::v1::CampaignService::NewStub(connection_.channel())) {}

std::unique_ptr<CampaignClient> CampaignClient::Open(const ConnectionOptions& options, int* exit_code) {
  auto connection = Connection::Open(options);
  if (!connection.ok()) {
    *exit_code = ReportConnectionError(connection.status());
    return nullptr;
  }
  *exit_code = kExitOk;
  return std::unique_ptr<CampaignClient>(new CampaignClient(std::move(*connection)));
}

}  // namespace moe4::ctl
