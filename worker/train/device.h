// Parses and checks the --device flag ("cpu", "cuda", "cuda:N") and describes
// the device for registration. Stateless; safe from any thread.
#ifndef MOE4_WORKER_TRAIN_DEVICE_H_
#define MOE4_WORKER_TRAIN_DEVICE_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace moe4::worker {

// Fails with a clear message when CUDA is asked for but this LibTorch has no
// CUDA or the index does not exist.
absl::StatusOr<torch::Device> ParseDevice(const std::string& text);

struct DeviceInfo {
  std::string kind;  // "cpu" | "cuda"
  std::string name;  // CPU model or GPU name
  int64_t memory_mb = 0;
};

DeviceInfo DescribeDevice(const torch::Device& device);

// Cores the OS reports (at least 1): the default for --threads.
int DefaultThreads();

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_DEVICE_H_
