#include "ctl/connection.h"

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/auth.h"

namespace moe4::ctl {
namespace {

std::string DefaultConfigPath() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) return absl::StrCat(xdg, "/moe4/config.yaml");
  if (const char* home = std::getenv("HOME"); home && *home) return absl::StrCat(home, "/.config/moe4/config.yaml");
  return "";
}

// Reads `coordinator`, `token_file` and `tls_ca` from the config file when
// the corresponding option is still unset.
absl::Status ApplyConfigFile(ConnectionOptions& options) {
  const std::string path = options.config_file.empty() ? DefaultConfigPath() : options.config_file;
  if (path.empty() || !std::filesystem::exists(path)) {
    if (!options.config_file.empty()) return absl::NotFoundError(absl::StrCat("config file ", path, ": not found"));
    return absl::OkStatus();
  }
  try {
    const YAML::Node config = YAML::LoadFile(path);
    auto fill = [&](std::string& field, const char* key) {
      if (field.empty() && config[key] && config[key].IsScalar()) field = config[key].Scalar();
    };
    fill(options.coordinator, "coordinator");
    fill(options.token_file, "token_file");
    fill(options.tls_ca, "tls_ca");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config file ", path, ": line ", e.mark.line + 1, ": ", e.msg));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("tls-ca ", path, ": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

absl::StatusOr<Connection> Connection::Open(ConnectionOptions options) {
  if (options.coordinator.empty()) {
    if (const char* env = std::getenv("MOE4_COORDINATOR"); env && *env) options.coordinator = env;
  }
  if (auto status = ApplyConfigFile(options); !status.ok()) return status;
  if (options.coordinator.empty()) options.coordinator = "127.0.0.1:50051";

  Connection connection;
  auto token = LoadToken(options.token_file, "MOE4_TOKEN");
  if (!token.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        token.status().message(), " (pass --token-file, set MOE4_TOKEN, or put token_file in the config file)"));
  }
  connection.token_ = *token;
  connection.address_ = options.coordinator;

  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    auto pem = ReadFile(options.tls_ca);
    if (!pem.ok()) return pem.status();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *pem;
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  connection.channel_ = grpc::CreateCustomChannel(options.coordinator, credentials, args);
  return connection;
}

std::unique_ptr<grpc::ClientContext> Connection::NewContext(int timeout_seconds) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata(std::string(kAuthMetadataKey), BearerValue(token_));
  if (timeout_seconds > 0) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds));
  }
  return context;
}

}  // namespace moe4::ctl
