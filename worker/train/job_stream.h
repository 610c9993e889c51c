// The CUDA stream one job runs on, so that several jobs on one GPU
// (--jobs-per-device) queue their kernels independently instead of all
// serialising on the default stream. A stream of LibTorch's pool is taken
// per job and made current on every thread that issues the job's work: the
// trainer's thread and each batch producer's thread (their host-to-device
// copies then precede, in stream order, the kernels that read them, and the
// caching allocator reuses their blocks on the same stream).
//
// On the CPU, and in a binary built without CUDA headers, it does nothing.
// Immutable once built; MakeCurrent() is safe from any thread.
#ifndef MOE4_WORKER_TRAIN_JOB_STREAM_H_
#define MOE4_WORKER_TRAIN_JOB_STREAM_H_

#include <torch/torch.h>

#include <optional>

namespace moe4::worker {

class JobStream {
 public:
  // Takes the next stream of the device's pool (streams are reused round
  // robin across the process: 32 per device in LibTorch, more than the jobs
  // one device runs at once).
  explicit JobStream(const torch::Device& device);

  // Makes the job's stream the calling thread's current stream for its device.
  void MakeCurrent() const;

  // Whether the job has a stream of its own (a CUDA device in a CUDA build).
  bool active() const { return stream_.has_value(); }

 private:
  std::optional<c10::Stream> stream_;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_JOB_STREAM_H_
