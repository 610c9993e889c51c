// Parses and checks the --device flag ("cpu", "cuda", "cuda:N") and describes
// the device for registration. Stateless; safe from any thread.
#ifndef MOE4_WORKER_TRAIN_DEVICE_H_
#define MOE4_WORKER_TRAIN_DEVICE_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace moe4::worker {

// Fails with a clear message when CUDA is asked for and this LibTorch has no
// CUDA ("this LibTorch build has no CUDA"), LibTorch has CUDA but there is no
// usable GPU ("no CUDA device"), or the index does not exist.
absl::StatusOr<torch::Device> ParseDevice(const std::string& text);

// Whether the LibTorch this process runs has its CUDA backend
// (libtorch_cuda.so) loaded, GPU or not. False for Debian's CPU-only one.
bool LibTorchHasCuda();

// Whether this binary was compiled against a CUDA LibTorch (MOE4_TORCH_CUDA,
// worker/train/torch_cuda.h). A CUDA build whose LibTorchHasCuda() is false
// at run time lost libtorch_cuda.so at link time (--as-needed).
bool BuiltWithCudaHeaders();

struct DeviceInfo {
  std::string kind;  // "cpu" | "cuda"
  std::string name;  // CPU model or GPU name
  int64_t memory_mb = 0;
};

DeviceInfo DescribeDevice(const torch::Device& device);

// Memory (MiB) that new allocations on the device can use now: for a GPU,
// what the driver reports free plus what this process's caching allocator
// holds but does not use (the next job of this process reuses it); for the
// CPU, MemAvailable of /proc/meminfo. 0 when unknown (a binary built without
// CUDA headers asked about a GPU).
int64_t DeviceFreeMemoryMb(const torch::Device& device);

// The GPU's compute capability as major * 10 + minor (86 for an RTX 3090,
// 90 for an H100); 0 for the CPU or a binary built without CUDA headers.
int CudaComputeCapability(const torch::Device& device);

// Cores the OS reports (at least 1): the default for --threads.
int DefaultThreads();

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_DEVICE_H_
