// The CampaignService client the commands share: opens the connection, makes
// one unary call, and turns any failure into the printed message and exit
// code of commands.h. Not thread-safe; one per command.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "ctl/commands.h"
#include "moe4/v1/moe4.grpc.pb.h"

namespace moe4::ctl {

class CampaignClient {
 public:
  // Prints the reason and returns its exit code in `*exit_code` on failure.
  static std::unique_ptr<CampaignClient> Open(const ConnectionOptions& options, int* exit_code);

  // Calls `method` with a deadline; 0 on success, else the exit code after
  // printing "moe4ctl: <what>: <message>".
  template <typename Request, typename Response>
  int Call(grpc::Status (moe4::v1::CampaignService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                                    Response*),
           const Request& request, Response* response, const std::string& what, int timeout_seconds = 60) {
    auto context = connection_.NewContext(timeout_seconds);
    const grpc::Status status = (stub_.get()->*method)(context.get(), request, response);
    return status.ok() ? kExitOk : ReportRpcError(status, what);
  }

  moe4::v1::CampaignService::Stub& stub() { return *stub_; }
  const Connection& connection() const { return connection_; }

 private:
  explicit CampaignClient(Connection connection);
  Connection connection_;
  std::unique_ptr<moe4::v1::CampaignService::Stub> stub_;
};

// Prints the connection error (bad token file, config) and returns its code.
int ReportConnectionError(const absl::Status& status);

}  // namespace moe4::ctl
