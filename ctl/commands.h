// moe4ctl subcommands. Each returns the process exit code; scripts can rely on:
//   0  success
//   1  the coordinator refused or failed the request (not found, conflict, ...)
//   2  bad usage or invalid input (e.g. a spec that does not validate)
//   3  the coordinator is unreachable or timed out
//   4  authentication or permission failure
// Not thread-safe; one command per process.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "ctl/connection.h"
#include "ctl/output.h"

namespace moe4::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnavailable = 3;
inline constexpr int kExitAuth = 4;

// Maps a gRPC status to an exit code and prints "moe4ctl: <what>: <message>".
int ReportRpcError(const grpc::Status& status, const std::string& what);
int ExitCodeFor(const absl::Status& status);

struct SubmitOptions {
  std::string file;
  bool dry_run = false;   // validate and sample locally; contact nothing
};
int Submit(const SubmitOptions& options, const ConnectionOptions& connection, OutputFormat format, std::ostream& out);

int List(const ConnectionOptions& connection, OutputFormat format, std::ostream& out);
int Status(int64_t campaign_id, const ConnectionOptions& connection, OutputFormat format, std::ostream& out);

struct LeaderboardOptions {
  int64_t campaign_id = 0;
  int top = 20;
  std::string by = "final";   // final | best
};
int Leaderboard(const LeaderboardOptions& options, const ConnectionOptions& connection, OutputFormat format,
                std::ostream& out);

}  // namespace moe4::ctl
