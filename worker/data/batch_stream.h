// Turns an in-memory Dataset into device-ready float batches: shuffling,
// batched augmentation (random crop with padding, horizontal flip), optional
// resize, normalisation and mixup, all as tensor ops on whole batches. A
// background thread prepares the next batch while the current one trains.
// The dataset may live on the training device (DeviceResidentCopy): every
// gather, crop, flip, resize and mixup then runs there, and only the random
// draws (a few numbers per image, from the stream's CPU generator, so the
// batches do not depend on where they are made) cross from the host. A
// dataset held on the host reaches a GPU through pinned memory with
// asynchronous copies on the producer's (the job's) stream.
// A BatchStream is used by one consumer thread; it owns its producer thread.
#ifndef MOE4_WORKER_DATA_BATCH_STREAM_H_
#define MOE4_WORKER_DATA_BATCH_STREAM_H_

#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "worker/data/dataset.h"

namespace moe4::worker {

// Datasets up to this size are held on a GPU for the whole job (Fashion-MNIST,
// MNIST, CIFAR-10/100 are 47-184 MB as uint8).
inline constexpr int64_t kMaxDeviceResidentBytes = int64_t{2} << 30;

// A copy of `dataset` (uint8 images and labels) on `device`, for a dataset of
// at most `max_bytes` on a CUDA device; nullopt otherwise (the CPU, or too
// large: batches are then copied per step from pinned host memory).
std::optional<Dataset> DeviceResidentCopy(const Dataset& dataset, const torch::Device& device, int64_t max_bytes);

struct AugmentOptions {
  int pad = 0;               // random-crop padding in pixels (0 = no crop)
  bool flip = false;         // random horizontal flip
  int resize = 0;            // 0 = native, else bilinear resize to resize x resize
  std::vector<double> mean;  // per-channel mean on the [0, 1] scale
  std::vector<double> std;   // per-channel std on the [0, 1] scale
};

// Per-dataset augmentation defaults (crop 4 / flip for CIFAR, crop 2 for the
// 28x28 sets, flip for Fashion-MNIST but not MNIST or synthetic, whose classes
// are orientation-sensitive), with mean/std measured on `train`.
AugmentOptions DefaultAugment(const std::string& dataset_name, const Dataset& train, int resize);

// Per-channel mean and std of uint8 images on the [0, 1] scale.
void ChannelStats(const torch::Tensor& images, std::vector<double>* mean, std::vector<double>* std);

// Batched random crop (zero padding) and horizontal flip of uint8 [B,C,H,W]
// images, drawing only from `generator` (so the result depends only on it),
// on the images' device.
torch::Tensor Preprocess(const torch::Tensor& images, const AugmentOptions& options, at::Generator* generator);

struct Batch {
  torch::Tensor images;    // float [B, C, S, S] on the device
  torch::Tensor labels;    // int64 [B] on the device
  torch::Tensor labels_b;  // mixup partner labels (== labels when no mixup)
  double lam = 1.0;        // mixup weight of `labels`
};

struct BatchStreamOptions {
  int64_t batch_size = 128;
  bool train = false;        // shuffle, augment, mixup, skip a final batch of 1
  double mixup_alpha = 0.0;  // Beta(alpha, alpha); 0 = off
  uint64_t seed = 0;         // shuffling/augmentation/mixup generator seed
  torch::Device device = torch::kCPU;
  // Run first on the producer thread (none by default): the trainer makes its
  // job's CUDA stream current there (worker/train/job_stream.h).
  std::function<void()> on_thread_start;
};

class BatchStream {
 public:
  BatchStream(const Dataset& dataset, AugmentOptions augment, BatchStreamOptions options);
  ~BatchStream();
  BatchStream(const BatchStream&) = delete;
  BatchStream& operator=(const BatchStream&) = delete;

  // The next batch, or false at the end of the pass.
  bool Next(Batch* batch);
  int64_t num_batches() const { return num_batches_; }

 private:
  Batch Make(int64_t index);
  void Produce();

  const Dataset& dataset_;
  const AugmentOptions augment_;
  const BatchStreamOptions options_;
  at::Generator generator_;  // used by the producer thread only
  torch::Tensor order_;
  int64_t num_batches_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Batch> ready_;  // GUARDED_BY(mu_)
  int64_t produced_ = 0;        // GUARDED_BY(mu_)
  int64_t consumed_ = 0;        // GUARDED_BY(mu_)
  bool stop_ = false;           // GUARDED_BY(mu_)
  std::exception_ptr error_;    // GUARDED_BY(mu_)
  std::thread producer_;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_BATCH_STREAM_H_
