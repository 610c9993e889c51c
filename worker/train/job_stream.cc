#include "worker/train/job_stream.h"

#include "worker/train/torch_cuda.h"
#ifdef MOE4_TORCH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace moe4::worker {

JobStream::JobStream(const torch::Device& device) {
#ifdef MOE4_TORCH_CUDA
  if (device.is_cuda()) {
    const auto index = static_cast<c10::DeviceIndex>(device.has_index() ? device.index() : 0);
    stream_ = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index).unwrap();
  }
#else
  (void)device;
#endif
}

void JobStream::MakeCurrent() const {
#ifdef MOE4_TORCH_CUDA
  if (stream_) c10::cuda::setCurrentCUDAStream(c10::cuda::CUDAStream(c10::cuda::CUDAStream::UNCHECKED, *stream_));
#endif
}

}  // namespace moe4::worker
