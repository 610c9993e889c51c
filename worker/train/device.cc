#include "worker/train/device.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/status/status.h"

#include "worker/train/torch_cuda.h"
// The GPU's properties come through LibTorch; its free memory from the CUDA
// runtime (libcudart.so.13), which the binaries link anyway through c10's
// CUDA headers: on a box, the torch wheel's nvidia-* wheels provide it
// (bench/gpu/run.sh puts them on LD_LIBRARY_PATH for a prebuilt pack).
#ifdef MOE4_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

namespace moe4::worker {

bool LibTorchHasCuda() {
  // The CUDA hooks are LibTorch's CUDA backend (libtorch_cuda.so), registered
  // when that library is loaded; CPU-only builds have the stub, which says no.
  return at::globalContext().hasCUDART();
}

bool BuiltWithCudaHeaders() {
#ifdef MOE4_TORCH_CUDA
  return true;
#else
  return false;
#endif
}

absl::StatusOr<torch::Device> ParseDevice(const std::string& text) {
  if (text == "cpu") return torch::Device(torch::kCPU);
  if (text.rfind("cuda", 0) != 0) {
    return absl::InvalidArgumentError("--device: expected cpu, cuda or cuda:N, got '" + text + "'");
  }
  int index = 0;
  if (text.size() > 4) {
    if (text[4] != ':' || text.size() == 5 || text.find_first_not_of("0123456789", 5) != std::string::npos) {
      return absl::InvalidArgumentError("--device: expected cuda:N, got '" + text + "'");
    }
    index = std::stoi(text.substr(5));
  }
  if (!LibTorchHasCuda()) {
    return absl::FailedPreconditionError("--device " + text +
                                         ": this LibTorch build has no CUDA (a CPU-only LibTorch such as Debian's; "
                                         "build the worker against a CUDA LibTorch, see docs/deploy.md)");
  }
  if (!torch::cuda::is_available()) {
    return absl::FailedPreconditionError("--device " + text +
                                         ": no CUDA device: LibTorch has CUDA, but the driver reports no usable GPU "
                                         "(check nvidia-smi and CUDA_VISIBLE_DEVICES)");
  }
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    return absl::InvalidArgumentError("--device " + text + ": only " + std::to_string(count) + " CUDA device(s)");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

DeviceInfo DescribeDevice(const torch::Device& device) {
  DeviceInfo info;
  if (device.is_cuda()) {
    info.kind = "cuda";
    info.name = "cuda:" + std::to_string(device.index());
#ifdef MOE4_TORCH_CUDA
    if (const cudaDeviceProp* prop = at::cuda::getDeviceProperties(device.index())) {
      info.name = prop->name;
      info.memory_mb = static_cast<int64_t>(prop->totalGlobalMem / (1024 * 1024));
    }
#endif
    return info;
  }
  info.kind = "cpu";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) info.name = line.substr(colon + 2);
      break;
    }
  }
  if (info.name.empty()) info.name = "cpu";
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) {
    info.memory_mb = static_cast<int64_t>(pages) * page_size / (1024 * 1024);
  }
  return info;
}

int64_t DeviceFreeMemoryMb(const torch::Device& device) {
  constexpr int64_t kMiB = 1024 * 1024;
  if (device.is_cuda()) {
#ifdef MOE4_TORCH_CUDA
    const int index = device.has_index() ? device.index() : 0;
    const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(index));
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
      (void)cudaGetLastError();  // clear the error so that LibTorch's next check does not see it
      return 0;
    }
    // Index 0 of each stat array is the aggregate over pool kinds (StatType::AGGREGATE).
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(index));
    const int64_t cached_unused = std::max<int64_t>(0, stats.reserved_bytes[0].current - stats.allocated_bytes[0].current);
    return (static_cast<int64_t>(free_bytes) + cached_unused) / kMiB;
#else
    return 0;
#endif
  }
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    if (line.rfind("MemAvailable:", 0) == 0) {
      long long kib = 0;  // NOLINT(runtime/int): sscanf's %lld
      if (std::sscanf(line.c_str(), "MemAvailable: %lld kB", &kib) == 1) return static_cast<int64_t>(kib / 1024);
    }
  }
  return 0;
}

int CudaComputeCapability(const torch::Device& device) {
#ifdef MOE4_TORCH_CUDA
  if (device.is_cuda()) {
    const int index = device.has_index() ? device.index() : 0;
    if (const cudaDeviceProp* prop = at::cuda::getDeviceProperties(index)) return prop->major * 10 + prop->minor;
  }
#else
  (void)device;
#endif
  return 0;
}

int DefaultThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace moe4::worker
