// One simulated worker daemon for the load benchmark: its own gRPC channel
// (its own TCP connection, as a separate process would have) and the real
// WorkerService calls a moe4-worker makes for a job, with no training in
// between: Lease, then one ReportEpochs per epoch, then Complete. Every call
// is timed. Like tests/ctl/sim_worker, but built for throughput: no failure
// injection, and timings kept for the measured window.
//
// Thread safety: Register() and then Run() from one thread; record() only
// after Run() has returned (the owner joins the thread first).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "moe4/v1/moe4.grpc.pb.h"

namespace moe4::bench {

using Clock = std::chrono::steady_clock;

// One finished call: when it started and how long it took.
struct RpcSample {
  Clock::time_point start;
  Clock::duration took;
  Clock::time_point end() const { return start + took; }
};

// What one worker did.
struct WorkerRecord {
  std::vector<RpcSample> lease;     // leases that granted a job
  std::vector<RpcSample> report;    // one per ReportEpochs (one epoch row each)
  std::vector<RpcSample> complete;  // one per finished trial
  bool ran_out = false;             // a Lease found nothing left before stop
  Clock::time_point ran_out_at{};
  absl::Status error;  // the first failed call; the worker stopped there
};

struct LoadWorkerOptions {
  std::string address;  // coordinator "host:port"
  std::string token;    // worker token
  std::string name;     // unique per worker
  std::chrono::seconds rpc_deadline{30};
};

class LoadWorker {
 public:
  explicit LoadWorker(LoadWorkerOptions options);

  // Connects and registers; call before Run().
  absl::Status Register();
  // Runs trials until `stop` is set (the trial in flight is finished, so no
  // lease is left half done) or nothing is left to lease, or a call fails.
  void Run(const std::atomic<bool>& stop);

  const WorkerRecord& record() const { return record_; }

 private:
  std::unique_ptr<grpc::ClientContext> Context() const;
  // One trial of an assigned job; false after recording an error.
  bool RunTrial(const moe4::v1::JobAssignment& job);

  LoadWorkerOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<moe4::v1::WorkerService::Stub> stub_;
  int64_t worker_id_ = 0;
  WorkerRecord record_;
};

}  // namespace moe4::bench
