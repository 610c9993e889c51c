// A worker daemon played by a test: it registers over the real WorkerService
// RPCs and runs every job it can lease with made-up but deterministic
// results (Register/Lease/ReportEpochs/Complete/Fail), so the coordinator and
// Postgres hold real campaign data without LibTorch. Not thread-safe; one per
// thread.
//
// The made-up results have structure a researcher's question can find:
// families add fixed amounts to the accuracy (ResNet best, AirNet far worst,
// so AirNet is low-yield and DenseNet+ResNet the best pair); ensembles with
// AirNet have a dead expert and E = 0.3, all others E = 0.8 and none dead
// (so "E >= 0.5 keeps every expert alive" holds). Every epoch has per-class
// accuracies over ten classes, expert i best on the classes c with
// c % K == i, and a specialisation (I / H(class)) rising to 0.2 for AirNet
// ensembles and 0.6 for the others at the last epoch.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "moe4/v1/moe4.grpc.pb.h"

namespace moe4::testing {

struct SimOptions {
  // Fail (non-retryable, after one epoch) the job with exactly these
  // families, in byte order; empty = none.
  std::vector<std::string> fail_families;
  int max_jobs = 0;          // stop after this many jobs; 0 = until nothing is left to lease
  // Sent with every epoch (EpochMetrics.skipped_images), as a worker does
  // whose folder dataset skipped bad files; empty = none.
  std::map<std::string, int32_t> skipped_images;
};

// The final test accuracy the simulated worker reports for an ensemble.
double SimulatedAccuracy(const std::vector<std::string>& families);
// Its E and dead experts at the last epoch.
double SimulatedEcology(const std::vector<std::string>& families);
int SimulatedDeadExperts(const std::vector<std::string>& families);
double SimulatedSpecialisation(const std::vector<std::string>& families);  // normalised, last epoch

// A campaign to run the simulated worker on: 6 families (AirNet, AlexNet,
// BagNet, DenseNet, ResNet, VGG), K=3, all 20 combinations, 3 epochs.
std::string ResultsSpecYaml();

class SimulatedWorker {
 public:
  SimulatedWorker(std::shared_ptr<grpc::Channel> channel, std::string token, std::string name);

  absl::Status Register(const std::string& device_kind = "cuda", const std::string& device_name = "Sim 4090",
                        int64_t memory_mb = 24000);
  // Leases and finishes jobs; returns how many it finished (succeeded or failed).
  absl::StatusOr<int> Run(const SimOptions& options = {});
  int64_t id() const { return id_; }

 private:
  std::unique_ptr<grpc::ClientContext> Context() const;
  absl::Status RunJob(const moe4::v1::JobAssignment& job, bool fail, const SimOptions& options);

  std::unique_ptr<moe4::v1::WorkerService::Stub> stub_;
  std::string token_;
  std::string name_;
  int64_t id_ = 0;
};

}  // namespace moe4::testing
