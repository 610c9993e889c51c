// The world moe4ctl's tests run against, set up once per test binary: a real
// coordinator (in-process, on loopback) over a fresh database on the
// throwaway PostgreSQL (MOE4_PG_URL), and campaign 1, "results", finished by a
// simulated worker (sim_worker.h): 6 families, K=3, all 20 combinations,
// 3 epochs each; the AirNet+AlexNet+BagNet job failed, the other 19 succeeded.
// Tests run the real moe4ctl binary against it. Not thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/server/coordinator_server.h"
#include "tests/coordinator/test_support.h"
#include "tests/ctl/process.h"
#include "tests/ctl/sim_worker.h"

namespace moe4::testing {

inline constexpr char kCtlAdminToken[] = "ctl-test-admin-token";
inline constexpr char kCtlWorkerToken[] = "ctl-test-worker-token";
inline constexpr int64_t kResultsCampaign = 1;

class CtlWorld {
 public:
  // The world, started by the global test environment; ok() says whether it is.
  static CtlWorld& Get();

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  std::string address() const;
  const std::string& token_file() const { return token_file_; }
  const std::string& db_url() const { return db_->url(); }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

  // moe4ctl with --coordinator and --token-file set, then `args`.
  ProcessResult Ctl(const std::vector<std::string>& args, const ProcessOptions& options = {}) const;
  std::vector<std::string> CtlArgv(const std::vector<std::string>& args) const;

  // Submits over gRPC (not through moe4ctl); returns the campaign id.
  absl::StatusOr<int64_t> Submit(const std::string& yaml) const;
  // A new simulated worker, registered.
  std::unique_ptr<SimulatedWorker> NewWorker(const std::string& name) const;

  void Start();
  void Stop();

 private:
  std::unique_ptr<coordinator::testing::TestDatabase> db_;
  std::unique_ptr<coordinator::CoordinatorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string token_file_;
  std::string error_ = "not started";
};

}  // namespace moe4::testing
