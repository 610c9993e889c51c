#include "worker/data/batch_stream.h"

#include <algorithm>
#include <cmath>

namespace moe4::worker {

std::optional<Dataset> DeviceResidentCopy(const Dataset& dataset, const torch::Device& device, int64_t max_bytes) {
  if (!device.is_cuda() || !dataset.images.defined()) return std::nullopt;
  const int64_t bytes = dataset.images.numel() * dataset.images.element_size() +
                        dataset.labels.numel() * dataset.labels.element_size();
  if (bytes > max_bytes) return std::nullopt;
  Dataset copy;
  copy.name = dataset.name;
  copy.num_classes = dataset.num_classes;
  copy.images = dataset.images.to(device);
  copy.labels = dataset.labels.to(device);
  return copy;
}

namespace {

// To the device without blocking the host: a CPU tensor goes through pinned
// memory (the caching host allocator keeps the buffer until the copy on the
// current stream is done); a tensor already there is returned as it is.
torch::Tensor ToDevice(const torch::Tensor& t, const torch::Device& device) {
  if (t.device() == device) return t;
  if (device.is_cuda() && t.is_cpu()) return t.pin_memory().to(device, /*non_blocking=*/true);
  return t.to(device);
}

}  // namespace

AugmentOptions DefaultAugment(const std::string& dataset_name, const Dataset& train, int resize) {
  AugmentOptions a;
  a.resize = resize;
  if (dataset_name == "cifar10" || dataset_name == "cifar100") {
    a.pad = 4;
    a.flip = true;
  } else if (dataset_name == "folder" || dataset_name == "tinyimagenet") {
    // Photographs, like CIFAR's: crop by an eighth of the side, flip.
    a.pad = std::max(1, train.height() / 8);
    a.flip = true;
  } else if (dataset_name == "fashion-mnist") {
    a.pad = 2;
    a.flip = true;
  } else {  // mnist, synthetic: flipping would change the class
    a.pad = 2;
  }
  ChannelStats(train.images, &a.mean, &a.std);
  return a;
}

void ChannelStats(const torch::Tensor& images, std::vector<double>* mean, std::vector<double>* std) {
  const int64_t channels = images.size(1);
  mean->assign(channels, 0.0);
  std->assign(channels, 0.0);
  // Sums in float64 over chunks: exact enough and bounded temporary memory.
  std::vector<double> sum(channels, 0.0), sum_sq(channels, 0.0);
  const int64_t n = images.size(0);
  const int64_t chunk = 4096;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    auto x = images.slice(0, begin, std::min(n, begin + chunk)).to(torch::kDouble) / 255.0;
    auto s = x.sum({0, 2, 3});
    auto s2 = x.pow(2).sum({0, 2, 3});
    for (int64_t c = 0; c < channels; ++c) {
      sum[c] += s[c].item<double>();
      sum_sq[c] += s2[c].item<double>();
    }
  }
  const double count = static_cast<double>(n) * images.size(2) * images.size(3);
  for (int64_t c = 0; c < channels; ++c) {
    (*mean)[c] = count > 0 ? sum[c] / count : 0.0;
    const double var = count > 0 ? sum_sq[c] / count - (*mean)[c] * (*mean)[c] : 1.0;
    (*std)[c] = std::max(std::sqrt(std::max(var, 0.0)), 1e-3);
  }
}

namespace {

// Per-sample random crop from the zero-padded batch, as one gather.
torch::Tensor RandomCrop(const torch::Tensor& x, int pad, at::Generator* gen) {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  auto padded = torch::constant_pad_nd(x, {pad, pad, pad, pad}, 0);
  const int64_t pw = w + 2 * pad;
  // Drawn on the host's generator, applied where the images are.
  auto oy = ToDevice(torch::randint(0, 2 * pad + 1, {b, 1, 1}, *gen, torch::kLong), x.device());
  auto ox = ToDevice(torch::randint(0, 2 * pad + 1, {b, 1, 1}, *gen, torch::kLong), x.device());
  const auto on_device = torch::TensorOptions().dtype(torch::kLong).device(x.device());
  auto rows = torch::arange(h, on_device).view({1, h, 1}) + oy;
  auto cols = torch::arange(w, on_device).view({1, 1, w}) + ox;
  auto index = (rows * pw + cols).view({b, 1, h * w}).expand({b, c, h * w});
  return padded.reshape({b, c, -1}).gather(2, index).view({b, c, h, w});
}

}  // namespace

torch::Tensor Preprocess(const torch::Tensor& images, const AugmentOptions& options, at::Generator* generator) {
  auto x = images;
  if (generator != nullptr && options.pad > 0) {
    x = RandomCrop(x, options.pad, generator);
  }
  if (generator != nullptr && options.flip) {
    auto flip = ToDevice(torch::rand({x.size(0)}, *generator) < 0.5, x.device());
    x = torch::where(flip.view({-1, 1, 1, 1}), x.flip({3}), x);
  }
  return x;
}

namespace {

torch::Tensor ToFloat(const torch::Tensor& x_uint8, const AugmentOptions& options, torch::Device device) {
  auto x = ToDevice(x_uint8, device).to(torch::kFloat).div_(255.0);
  if (options.resize > 0 && (x.size(2) != options.resize || x.size(3) != options.resize)) {
    x = torch::nn::functional::interpolate(x, torch::nn::functional::InterpolateFuncOptions()
                                                  .size(std::vector<int64_t>{options.resize, options.resize})
                                                  .mode(torch::kBilinear)
                                                  .align_corners(false));
  }
  if (!options.mean.empty()) {
    const auto c = static_cast<int64_t>(options.mean.size());
    auto mean = torch::tensor(options.mean, torch::kFloat).view({1, c, 1, 1}).to(device);
    auto std = torch::tensor(options.std, torch::kFloat).view({1, c, 1, 1}).to(device);
    x = (x - mean) / std;
  }
  return x;
}

}  // namespace

BatchStream::BatchStream(const Dataset& dataset, AugmentOptions augment, BatchStreamOptions options)
    : dataset_(dataset),
      augment_(std::move(augment)),
      options_(options),
      generator_(at::make_generator<at::CPUGeneratorImpl>(options.seed)) {
  const int64_t n = dataset_.size();
  order_ = options_.train ? torch::randperm(n, generator_, torch::kLong) : torch::arange(n, torch::kLong);
  num_batches_ = (n + options_.batch_size - 1) / options_.batch_size;
  // BatchNorm cannot train on a batch of one image.
  if (options_.train && n > 1 && n % options_.batch_size == 1) --num_batches_;
  producer_ = std::thread([this] { Produce(); });
}

BatchStream::~BatchStream() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  producer_.join();
}

Batch BatchStream::Make(int64_t index) {
  const int64_t begin = index * options_.batch_size;
  const int64_t end = std::min(dataset_.size(), begin + options_.batch_size);
  // The order lives on the host; a device-resident dataset is indexed there.
  auto idx = ToDevice(order_.slice(0, begin, end), dataset_.images.device());
  auto images = dataset_.images.index_select(0, idx);
  Batch batch;
  batch.labels = dataset_.labels.index_select(0, idx);
  if (options_.train) {
    images = Preprocess(images, augment_, &generator_);
  }
  batch.images = ToFloat(images, augment_, options_.device);
  batch.labels_b = batch.labels;
  if (options_.train && options_.mixup_alpha > 0) {
    auto g = at::_standard_gamma(torch::full({2}, options_.mixup_alpha, torch::kDouble), generator_);
    const double g0 = g[0].item<double>(), g1 = g[1].item<double>();
    batch.lam = (g0 + g1) > 0 ? g0 / (g0 + g1) : 1.0;
    auto perm = torch::randperm(end - begin, generator_, torch::kLong);
    batch.labels_b = batch.labels.index_select(0, ToDevice(perm, batch.labels.device()));
    auto perm_d = ToDevice(perm, options_.device);
    batch.images = batch.images.mul(batch.lam).add_(batch.images.index_select(0, perm_d), 1.0 - batch.lam);
  }
  batch.labels = ToDevice(batch.labels, options_.device);
  batch.labels_b = ToDevice(batch.labels_b, options_.device);
  return batch;
}

void BatchStream::Produce() {
  // Batch preparation is light (gathers, casts); a second OpenMP team of
  // `threads` spinning next to the training thread's team oversubscribes
  // the cores, so the producer runs single-threaded. OpenMP thread counts
  // are per thread: this leaves the training thread's setting alone.
  torch::set_num_threads(1);
  if (options_.on_thread_start) options_.on_thread_start();
  for (int64_t i = 0; i < num_batches_; ++i) {
    Batch batch;
    try {
      batch = Make(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return stop_ || !ready_.has_value(); });
    if (stop_) return;
    ready_ = std::move(batch);
    ++produced_;
    cv_.notify_all();
  }
}

bool BatchStream::Next(Batch* batch) {
  std::unique_lock<std::mutex> lock(mu_);
  if (consumed_ >= num_batches_) return false;
  cv_.wait(lock, [this] { return ready_.has_value() || error_ != nullptr; });
  if (!ready_.has_value()) std::rethrow_exception(error_);
  *batch = std::move(*ready_);
  ready_.reset();
  ++consumed_;
  cv_.notify_all();
  return true;
}

}  // namespace moe4::worker
