#include "worker/train/device.h"

#include <gtest/gtest.h>
#include <torch/version.h>

#include <string>

namespace moe4::worker {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(DeviceTest, ParsesCpu) {
  auto device = ParseDevice("cpu");
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_TRUE(device->is_cpu());
  EXPECT_EQ(DescribeDevice(*device).kind, "cpu");
}

TEST(DeviceTest, RejectsMalformedNames) {
  for (const char* text : {"gpu", "cuda:", "cuda:x", "cuda0", "cuda:-1", "CPU"}) {
    auto device = ParseDevice(text);
    ASSERT_FALSE(device.ok()) << text;
    EXPECT_EQ(device.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

// Both LibTorch flavours are built in CI (Debian's 1.13 CPU-only, PyPI's 2.x
// with CUDA); neither machine has a GPU. A binary compiled against a CUDA
// LibTorch must also run with LibTorch's CUDA backend loaded: when the linker
// drops libtorch_cuda.so (--as-needed), every GPU box would say "no CUDA".
TEST(DeviceTest, CudaBackendLoadedExactlyWhenBuiltForCuda) {
  EXPECT_EQ(LibTorchHasCuda(), BuiltWithCudaHeaders())
      << "LibTorch " << TORCH_VERSION << ": compiled with CUDA headers " << BuiltWithCudaHeaders()
      << ", CUDA backend loaded " << LibTorchHasCuda();
}

TEST(DeviceTest, CudaErrorSaysWhatIsMissing) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a GPU is visible";
  for (const char* text : {"cuda", "cuda:0"}) {
    auto device = ParseDevice(text);
    ASSERT_FALSE(device.ok()) << text;
    EXPECT_EQ(device.status().code(), absl::StatusCode::kFailedPrecondition);
    const std::string message(device.status().message());
    if (LibTorchHasCuda()) {
      EXPECT_TRUE(Contains(message, "no CUDA device")) << message;
      EXPECT_FALSE(Contains(message, "has no CUDA")) << message;
    } else {
      EXPECT_TRUE(Contains(message, "this LibTorch build has no CUDA")) << message;
    }
  }
}

TEST(DeviceTest, DefaultThreadsIsPositive) { EXPECT_GE(DefaultThreads(), 1); }

}  // namespace
}  // namespace moe4::worker
