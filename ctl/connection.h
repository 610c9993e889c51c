// How moe4ctl reaches the coordinator: address, token and TLS, resolved from
// flags, then the environment, then ~/.config/moe4/config.yaml, then defaults.
// Not thread-safe; built once in main().
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace moe4::ctl {

struct ConnectionOptions {
  std::string coordinator;   // host:port; env MOE4_COORDINATOR; default 127.0.0.1:50051
  std::string token_file;    // file with the admin token; env MOE4_TOKEN holds the token itself
  std::string tls_ca;        // PEM of the CA that signed the coordinator's cert; "" = plaintext
  std::string config_file;   // default ~/.config/moe4/config.yaml (optional)
};

class Connection {
 public:
  // Fills unset options from the environment and the config file, reads the
  // token, and opens the channel (lazily: nothing is sent yet).
  static absl::StatusOr<Connection> Open(ConnectionOptions options);

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  const std::string& address() const { return address_; }

  // A context carrying the bearer token and a deadline.
  std::unique_ptr<grpc::ClientContext> NewContext(int timeout_seconds = 30) const;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::string address_;
  std::string token_;
};

}  // namespace moe4::ctl
