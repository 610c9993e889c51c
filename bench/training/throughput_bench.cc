// Training throughput (issue 9, item 2; issue 14, item 3): a fixed MoE4
// ensemble (AirNet + AlexNet + BagNet + DenseNet plus the conv gate) with 10
// classes from either catalogue (--catalogue adapted: the small-input designs
// at 3x32x32, the default; lemur: LEMUR's networks as published, which need
// larger inputs: --image-size 64 resizes the CIFAR-sized images as a
// campaign's dataset.resize does), through the worker's own code paths, on the
// CPU or a GPU (--device cuda[:N]) in the recipe's precision (--precision
// fp32|bf16|fp16|auto, TrainingCore's mixed precision):
//   (a) the training step alone on an in-memory batch (forward, mixup +
//       label-smoothed CE + load balance, backward, clipping, AdamW step);
//   (b) evaluation, no grad;
//   (c) a whole epoch including data: Trainer::Run on an in-memory uint8
//       synthetic data set, i.e. the worker's BatchStream (random crop with
//       padding 4, flip, normalisation, mixup on a producer thread), the
//       training loop and the test pass; images/s is the trainer's own
//       EpochMetrics.images_per_second;
//   (d) the GEMM peak (best torch::mm of N x N floats) and the training
//       step's achieved GFLOP/s, from --flops-per-image (training FLOPs per
//       image; throughput.sh passes 3x the PyTorch peer's profiler count of
//       the forward pass, the same network: the peer checks the parameters);
//   (e) with --per-family: where a step's time goes, i.e. forward + backward
//       of each family alone on the step's batch (a fresh expert of the same
//       catalogue, options and weight layout) and the AdamW step alone.
// --step-only measures (a) alone (and (e) if asked): bench/gpu/run.sh's mode.
// On a GPU the clocks are read after torch::cuda::synchronize(), the step's
// non-finite check is read once after the timed steps, and the peak memory is
// the CUDA caching allocator's peak of allocated bytes since the process
// started (the CPU: the process's peak RSS), worker/train/metrics.h.
// pytorch_peer.py measures the same in PyTorch; throughput.sh runs both.
//
//   throughput_bench [--catalogue adapted|lemur] [--image-size S] [--width W]
//                    [--batch B] [--threads N] [--steps N] ... [--per-family]
//                    [--device cpu|cuda[:N]] [--precision fp32|bf16|fp16|auto]
//                    [--step-only] [--flops-per-image F] [--json FILE]
//   throughput_bench --describe     parameter counts (total, per family, gate) as JSON, for the peer
#include <time.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/training/machine_info.h"
#include "bench/training/throughput_step.h"
#include "common/catalogue_kind.h"
#include "common/precision_name.h"
#include "worker/data/synthetic.h"
#include "worker/train/device.h"
#include "worker/train/omp_env.h"
#include "worker/train/recipe.h"
#include "worker/train/trainer.h"

namespace moe4::worker::bench {
namespace {

using Clock = std::chrono::steady_clock;
using moe4::bench::Fixed;
using moe4::bench::LoadAverage;
using moe4::bench::MappedBlasLibraries;
using nlohmann::json;

// The hand-made reference ensemble of the published campaign, in the byte
// order a job lists its families in.
const std::vector<std::string> kFamilies = {"AirNet", "AlexNet", "BagNet", "DenseNet"};
constexpr int kChannels = 3;
constexpr int kClasses = 10;

struct Config {
  // Which networks the ids build (jobs: the campaign's), at which input side
  // (the data are 32x32, resized when this differs).
  Catalogue catalogue = Catalogue::kAdapted;
  int image_size = 32;
  double width = 1.0;  // deploy/examples/published-bias.yaml: CIFAR-10 at width 1.0
  int64_t batch = 128;
  int64_t eval_batch = 256;  // the trainer evaluates at max(batch, 256)
  int threads = DefaultThreads();
  int warmup_steps = 2;
  int steps = 10;
  int eval_batches = 10;
  int64_t train_images = 10000;
  int64_t test_images = 2000;
  int gemm_n = 2048;
  int gemm_repeats = 5;
  double flops_per_image = 0;  // training-step FLOPs per image; 0 = unknown
  std::string flops_source;
  bool describe = false;
  bool per_family = false;
  std::string json_path;
  WeightLayout weight_layout = WeightLayout::kAuto;          // what jobs use
  std::string device_text = "cpu";                           // --device: cpu | cuda | cuda:N
  torch::Device device = torch::kCPU;                        // parsed from device_text
  moe4::v1::Precision precision = moe4::v1::PRECISION_FP32;  // recipe.precision
  bool step_only = false;                                    // (a) (and (e) if asked) only
};

double Seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// CPU seconds of the whole process, all threads: on a shared box the wall
// clock measures the neighbours too, CPU time mostly the work itself (the
// OpenMP threads wait passively, so waiting costs no CPU).
double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Waits for the device's queued work before a clock is read (no-op on the CPU).
void Sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// Best of `repeats` N x N products on `device` in `dtype` (fp32; bf16/fp16 on
// a GPU: the tensor cores' peak for the step's precision), after one warm-up.
double GemmPeakGflops(int n, int repeats, const torch::Device& device, torch::ScalarType dtype) {
  const auto options = torch::TensorOptions().device(device).dtype(dtype);
  auto a = torch::randn({n, n}, options);
  auto b = torch::randn({n, n}, options);
  torch::mm(a, b);
  Sync(device);
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    auto c = torch::mm(a, b);
    Sync(device);
    best = std::min(best, Seconds(start));
  }
  return 2.0 * n * n * static_cast<double>(n) / best / 1e9;
}

// The first batch a BatchStream over `data` yields: the worker's own
// augmentation, normalisation and (for training) mixup.
Batch FirstBatch(const Dataset& data, const AugmentOptions& augment, int64_t batch, bool train, double mixup,
                 const torch::Device& device) {
  BatchStreamOptions options;
  options.device = device;
  options.batch_size = batch;
  options.train = train;
  options.mixup_alpha = mixup;
  options.seed = 1;
  BatchStream stream(data, augment, options);
  Batch b;
  if (!stream.Next(&b)) throw std::runtime_error(data.name + ": no batch");
  return b;
}

moe4::v1::JobAssignment Job(const Config& c, int epochs) {
  return ThroughputJob(kFamilies, c.width, c.batch, epochs, c.catalogue, c.image_size, c.precision);
}

DataShape Shape(const Config& c) { return ThroughputShape(kChannels, c.image_size, kClasses, c.train_images); }

std::string CatalogueString(const Config& c) { return std::string(CatalogueName(c.catalogue)); }

json Describe(const FamilyRegistry& registry, const Config& c) {
  auto job = Job(c, 1);
  // Counts do not depend on the precision, and fp16 cannot run on the CPU.
  job.mutable_recipe()->set_precision(moe4::v1::PRECISION_FP32);
  TrainingCore core(registry, job, Shape(c), torch::kCPU);
  MixtureOfExperts& model = core.model();
  json experts = json::object();
  for (const auto& child : model->named_children()) {
    const std::string& name = child.key();  // expert0..expert3 in kFamilies order, then gate
    if (name.rfind("expert", 0) == 0) {
      experts[kFamilies.at(std::stoi(name.substr(6)))] = CountParameters(*child.value());
    }
  }
  return {{"families", kFamilies},
          {"catalogue", CatalogueString(c)},
          {"input", {kChannels, c.image_size, c.image_size}},
          {"width", c.width},
          {"params", CountParameters(*model)},
          {"experts", experts},
          {"gate", CountParameters(*model->gate())}};
}

struct Figures {
  int64_t params = 0;
  bool channels_last = false;  // the weights' layout the step ran with
  double gemm_gflops = 0;
  double step_seconds = 0, eval_seconds = 0;
  double step_cpu = 0, eval_cpu = 0, epoch_cpu = 0;  // process CPU seconds of the same spans
  double epoch_images_per_second = 0, epoch_train_seconds = 0, epoch_seconds = 0, epoch_wall_seconds = 0;
  int64_t epoch_images = 0;
  double data_only_images_per_second = 0;
  // (e) --per-family: ms of forward + backward per family alone, AdamW step alone.
  std::vector<std::pair<std::string, double>> family_ms;
  double optimizer_ms = 0;
  // What the step ran in and on, and the peak memory after (a): allocated
  // bytes on a GPU, the process's peak RSS on the CPU.
  std::string precision = "fp32";
  int64_t skipped_steps = 0;  // fp16: overflowing steps the scaler skipped
  int64_t step_peak_memory_bytes = 0;
  DeviceInfo device_info;
  double StepImagesPerSecond(const Config& c) const { return c.batch * c.steps / step_seconds; }
  double EvalImagesPerSecond(const Config& c) const { return c.eval_batch * c.eval_batches / eval_seconds; }
  double StepGflops(const Config& c) const { return StepImagesPerSecond(c) * c.flops_per_image / 1e9; }
};

// Seconds per call of `fn`, best of `repeats` after one untimed call: on a
// shared box the best is the least disturbed.
template <typename Fn>
double BestSeconds(int repeats, const torch::Device& device, Fn&& fn) {
  fn();
  Sync(device);
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    fn();
    Sync(device);
    best = std::min(best, Seconds(start));
  }
  return best;
}

// (e) Where a step's time goes: each family alone, forward + cross-entropy +
// backward on the step's batch in training mode (a fresh expert built as the
// mixture builds it, in the runner's weight layout), then the mixture's AdamW
// step alone (on the gradients the last training step left).
void MeasurePerFamily(const FamilyRegistry& registry, const Config& c, const Batch& batch, StepRunner& runner,
                      Figures* f) {
  std::cerr << "throughput_bench: (e) per family, forward + backward, best of " << c.steps << "\n";
  ExpertOptions options;
  options.in_channels = kChannels;
  options.image_size = c.image_size;
  options.num_classes = kClasses;
  options.width = c.width;
  options.catalogue = c.catalogue;
  for (const auto& family : kFamilies) {
    torch::manual_seed(1);
    torch::nn::AnyModule expert = registry.Create(family, options);
    auto module = expert.ptr();
    module->to(c.device);
    module->train();
    if (runner.channels_last()) {
      torch::NoGradGuard no_grad;
      for (auto& p : module->parameters()) {
        if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
      }
    }
    const double s = BestSeconds(c.steps, c.device, [&] {
      for (auto& p : module->parameters()) p.mutable_grad() = torch::Tensor();
      torch::Tensor logits;
      {
        AutocastScope autocast(c.device, runner.precision());
        logits = expert.forward<torch::Tensor>(batch.images);
      }
      torch::nn::functional::cross_entropy(logits.to(torch::kFloat), batch.labels).backward();
    });
    f->family_ms.emplace_back(family, 1000 * s);
  }
  f->optimizer_ms = 1000 * BestSeconds(c.steps, c.device, [&] { runner.optimizer().step(); });
}

Figures Measure(const FamilyRegistry& registry, const Config& c) {
  Figures f;
  f.device_info = DescribeDevice(c.device);
  if (!c.step_only) {
    // The step's reduced precision on a GPU; fp32 otherwise (the CPU's bf16
    // GEMM is no peak worth comparing against).
    torch::ScalarType dtype = torch::kFloat;
    if (c.device.is_cuda() && c.precision == moe4::v1::PRECISION_BF16) dtype = torch::kBFloat16;
    if (c.device.is_cuda() && c.precision == moe4::v1::PRECISION_FP16) dtype = torch::kHalf;
    std::cerr << "throughput_bench: GEMM peak (" << c.gemm_n << "^3, best of " << c.gemm_repeats << ")\n";
    f.gemm_gflops = GemmPeakGflops(c.gemm_n, c.gemm_repeats, c.device, dtype);
  }

  SyntheticOptions data_options;
  data_options.train =
      c.step_only ? std::min<int64_t>(c.train_images, std::max<int64_t>(c.batch, 256)) : c.train_images;
  data_options.test = c.step_only ? std::min<int64_t>(c.test_images, 256) : c.test_images;
  const DatasetPair data = MakeSyntheticPair(data_options);
  const auto job = Job(c, 1);
  // The trainer's augmentation, with the job's resize (32x32 data to --image-size).
  const AugmentOptions augment = DefaultAugment(job.dataset().name(), data.train, job.dataset().resize());

  // (a) training step on one in-memory batch, mid-schedule.
  std::cerr << "throughput_bench: (a) training step, " << c.warmup_steps << " warm-up + " << c.steps << " steps\n";
  auto step_job = Job(c, 10);
  StepRunner runner(registry, step_job, Shape(c), c.weight_layout, c.device);
  f.params = CountParameters(*runner.model());
  f.channels_last = runner.channels_last();
  f.precision = std::string(PrecisionName(runner.precision()));
  const Batch train_batch = FirstBatch(data.train, augment, c.batch, true, step_job.recipe().mixup_alpha(), c.device);
  // On a GPU the warm-up steps also run cuDNN's autotuner (training_core.cc).
  for (int i = 0; i < c.warmup_steps; ++i) runner.TrainStep(train_batch, 5.0);
  runner.Synchronize();
  auto start = Clock::now();
  double cpu = ProcessCpuSeconds();
  for (int i = 0; i < c.steps; ++i) runner.TrainStep(train_batch, 5.0 + i / 100.0);
  runner.Synchronize();
  f.step_seconds = Seconds(start);
  f.step_cpu = ProcessCpuSeconds() - cpu;
  runner.CheckFinite();
  f.skipped_steps = runner.skipped_steps();
  f.step_peak_memory_bytes = PeakMemoryBytes(c.device);
  if (c.per_family) MeasurePerFamily(registry, c, train_batch, runner, &f);
  if (c.step_only) return f;

  // (b) evaluation.
  std::cerr << "throughput_bench: (b) evaluation, " << c.eval_batches << " batches of " << c.eval_batch << "\n";
  const Batch eval_batch = FirstBatch(data.test, augment, c.eval_batch, false, 0.0, c.device);
  EvalAccumulator eval(runner.model()->num_experts(), c.device);
  runner.EvalStep(eval_batch, &eval);
  runner.Synchronize();
  start = Clock::now();
  cpu = ProcessCpuSeconds();
  for (int i = 0; i < c.eval_batches; ++i) runner.EvalStep(eval_batch, &eval);
  runner.Synchronize();
  f.eval_seconds = Seconds(start);
  f.eval_cpu = ProcessCpuSeconds() - cpu;

  // (c) a whole epoch with data: the trainer itself, a fresh model as a job gets.
  std::cerr << "throughput_bench: (c) one epoch of " << c.train_images << " images + test pass of " << c.test_images
            << " (Trainer::Run)\n";
  auto epoch_job = job;
  epoch_job.mutable_recipe()->set_warmup_epochs(0);  // a 1-epoch job; lr does not change the cost
  if (auto s = ValidateJob(epoch_job, registry); !s.ok()) throw std::runtime_error(std::string(s.message()));
  TrainerOptions trainer_options;
  trainer_options.threads = c.threads;
  trainer_options.weight_layout = c.weight_layout;
  trainer_options.device = c.device;
  Trainer trainer(registry, epoch_job, data, trainer_options);
  start = Clock::now();
  cpu = ProcessCpuSeconds();
  const auto outcome = trainer.Run({});
  f.epoch_wall_seconds = Seconds(start);
  f.epoch_cpu = ProcessCpuSeconds() - cpu;  // model build + channel stats + epoch + test pass
  if (outcome.kind != TrainOutcome::Kind::kCompleted || outcome.history.empty()) {
    throw std::runtime_error("Trainer::Run did not complete: " + outcome.reason);
  }
  const auto& m = outcome.history.back();
  f.epoch_images_per_second = m.images_per_second();
  // The stream skips a final batch of one image (BatchNorm cannot train on it).
  f.epoch_images = data.train.size() - (data.train.size() % c.batch == 1 ? 1 : 0);
  f.epoch_train_seconds = m.images_per_second() > 0 ? f.epoch_images / m.images_per_second() : 0;
  f.epoch_seconds = m.epoch_seconds();

  // Where an epoch's time goes: the same BatchStream pass with no training,
  // i.e. what the data pipeline alone delivers (one producer thread).
  BatchStreamOptions stream_options;
  stream_options.batch_size = c.batch;
  stream_options.train = true;
  stream_options.mixup_alpha = job.recipe().mixup_alpha();
  stream_options.seed = 2;
  start = Clock::now();
  BatchStream stream(data.train, augment, stream_options);
  int64_t streamed = 0;
  for (Batch b; stream.Next(&b);) streamed += b.images.size(0);
  f.data_only_images_per_second = streamed / Seconds(start);
  return f;
}

std::string FlopsLine(const Figures& f, const Config& c) {
  if (c.flops_per_image <= 0) return "n/a (pass --flops-per-image; throughput.sh does)";
  return Fixed(f.StepGflops(c), 1) + " GFLOP/s = " + Fixed(100 * f.StepGflops(c) / f.gemm_gflops, 1) +
         " % of GEMM peak (" + Fixed(c.flops_per_image / 1e9, 3) + " GFLOP/image, " + c.flops_source + ")";
}

void PrintPerFamily(const Figures& f, const Config& c) {
  if (f.family_ms.empty()) return;
  std::cout << "(e) forward + backward alone, ms per batch of " << c.batch << ":";
  for (const auto& [family, ms] : f.family_ms) std::cout << " " << family << " " << Fixed(ms, 1);
  std::cout << "; AdamW step " << Fixed(f.optimizer_ms, 1) << "\n";
}

void PrintTable(const Figures& f, const Config& c) {
  std::cout << "throughput_bench: MoE4 AirNet + AlexNet + BagNet + DenseNet + gate, catalogue " << CatalogueString(c)
            << ", width " << c.width << ", " << kChannels << "x" << c.image_size << "x" << c.image_size
            << (c.image_size != 32 ? " (resized from 32x32)" : "") << ", " << kClasses << " classes, " << f.params
            << " parameters, weights " << (f.channels_last ? "channels-last" : "NCHW") << "\n"
            << "device " << c.device.str() << " (" << f.device_info.name << "), precision " << f.precision << "\n"
            << std::max(1u, std::thread::hardware_concurrency()) << " cores, " << at::get_num_threads()
            << " intra-op threads (at::get_num_threads), OMP_NUM_THREADS=" << Env("OMP_NUM_THREADS")
            << " OMP_WAIT_POLICY=" << Env("OMP_WAIT_POLICY") << ", LibTorch " << TORCH_VERSION << "\n\n";
  std::cout << std::left << std::setw(40) << "measure" << std::right << std::setw(12) << "images/s" << std::setw(12)
            << "ms/batch"
            << "\n";
  std::cout << std::left << std::setw(40) << "(a) training step, batch " + std::to_string(c.batch) << std::right
            << std::setw(12) << Fixed(f.StepImagesPerSecond(c), 1) << std::setw(12)
            << Fixed(1000 * f.step_seconds / c.steps, 1) << "\n";
  std::cout << "    peak memory " << Fixed(f.step_peak_memory_bytes / 1048576.0, 1)
            << (c.device.is_cuda() ? " MiB allocated on the GPU" : " MiB peak RSS") << "\n";
  if (c.step_only) {
    PrintPerFamily(f, c);
    return;
  }
  std::cout << std::left << std::setw(40) << "(b) evaluation, batch " + std::to_string(c.eval_batch) << std::right
            << std::setw(12) << Fixed(f.EvalImagesPerSecond(c), 1) << std::setw(12)
            << Fixed(1000 * f.eval_seconds / c.eval_batches, 1) << "\n";
  std::cout << std::left << std::setw(40) << "(c) epoch incl. data, " + std::to_string(f.epoch_images) + " images"
            << std::right << std::setw(12) << Fixed(f.epoch_images_per_second, 1) << std::setw(12) << ""
            << "\n";
  std::cout << "    epoch with test pass " << Fixed(f.epoch_seconds, 1) << " s; Trainer::Run wall "
            << Fixed(f.epoch_wall_seconds, 1) << " s; data pipeline alone (BatchStream, no training) "
            << Fixed(f.data_only_images_per_second, 0) << " images/s\n";
  std::cout << "(d) GEMM peak " << Fixed(f.gemm_gflops, 1) << " GFLOP/s (torch::mm " << c.gemm_n
            << "^3); training step " << FlopsLine(f, c) << "\n";
  PrintPerFamily(f, c);
}

json ToJson(const Figures& f, const Config& c, const std::string& load_before) {
  json step = {{"steps", c.steps},
               {"seconds", f.step_seconds},
               {"images_per_second", f.StepImagesPerSecond(c)},
               {"ms_per_step", 1000 * f.step_seconds / c.steps},
               {"cpu_seconds", f.step_cpu},
               {"images_per_cpu_second", c.batch * c.steps / f.step_cpu},
               {"skipped_steps", f.skipped_steps},
               {"peak_memory_bytes", f.step_peak_memory_bytes},
               {"peak_memory_kind", c.device.is_cuda() ? "cuda_max_allocated" : "process_max_rss"}};
  if (c.flops_per_image > 0 && !c.step_only) {
    step["gflops"] = f.StepGflops(c);
    step["fraction_of_gemm_peak"] = f.StepGflops(c) / f.gemm_gflops;
  }
  json result = {{"side", "libtorch"},
                 {"config",
                  {{"families", kFamilies},
                   {"width", c.width},
                   {"batch", c.batch},
                   {"eval_batch", c.eval_batch},
                   {"catalogue", CatalogueString(c)},
                   {"input", {kChannels, c.image_size, c.image_size}},
                   {"classes", kClasses},
                   {"threads", c.threads},
                   {"device", c.device.str()},
                   {"precision", f.precision},
                   {"precision_requested", std::string(PrecisionSpecName(c.precision))},
                   {"step_only", c.step_only}}},
                 {"machine",
                  {{"cores", std::max(1u, std::thread::hardware_concurrency())},
                   {"device_kind", f.device_info.kind},
                   {"device_name", f.device_info.name},
                   {"device_memory_mb", f.device_info.memory_mb},
                   {"libtorch", TORCH_VERSION},
                   {"threads", at::get_num_threads()},
                   {"omp_wait_policy", Env("OMP_WAIT_POLICY")},
                   {"omp_num_threads", Env("OMP_NUM_THREADS")},
                   {"openblas_coretype", std::getenv("OPENBLAS_CORETYPE") ? Env("OPENBLAS_CORETYPE") : "(unset)"},
                   {"blas", MappedBlasLibraries()},
                   {"loadavg_before", load_before},
                   {"loadavg_after", LoadAverage()}}},
                 {"params", f.params},
                 {"weights_channels_last", f.channels_last},
                 {"flops", {{"train_per_image", c.flops_per_image}, {"source", c.flops_source}}},
                 {"train_step", step}};
  if (!c.step_only) {
    result["gemm"] = {{"n", c.gemm_n}, {"gflops", f.gemm_gflops}};
    result["eval"] = {{"batches", c.eval_batches},
                      {"seconds", f.eval_seconds},
                      {"images_per_second", f.EvalImagesPerSecond(c)},
                      {"cpu_seconds", f.eval_cpu},
                      {"images_per_cpu_second", c.eval_batch * c.eval_batches / f.eval_cpu}};
    result["epoch"] = {{"train_images", f.epoch_images},
                       {"test_images", c.test_images},
                       {"train_seconds", f.epoch_train_seconds},
                       {"images_per_second", f.epoch_images_per_second},
                       {"epoch_seconds", f.epoch_seconds},
                       {"trainer_run_seconds", f.epoch_wall_seconds},
                       {"cpu_seconds", f.epoch_cpu},
                       {"images_per_cpu_second", f.epoch_images / f.epoch_cpu},
                       {"data_only_images_per_second", f.data_only_images_per_second}};
  }
  if (!f.family_ms.empty()) {
    json families = json::object();
    for (const auto& [family, ms] : f.family_ms) families[family] = ms;
    result["per_family"] = {{"forward_backward_ms", families}, {"optimizer_ms", f.optimizer_ms}};
  }
  return result;
}

int Run(int argc, char** argv) {
  Config c;
  CLI::App app{"throughput_bench: MoE4 training throughput through the worker's code paths"};
  std::string precision_text = "fp32";
  app.add_option("--catalogue", c.catalogue, "which networks the family ids build: adapted or lemur")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, Catalogue>{{"adapted", Catalogue::kAdapted}, {"lemur", Catalogue::kLemur}},
          CLI::ignore_case));
  app.add_option("--image-size", c.image_size, "the networks' input side (the 32x32 data are resized to it)")
      ->capture_default_str()
      ->check(CLI::Range(8, 1024));
  app.add_option("--width", c.width, "expert width multiplier")->capture_default_str()->check(CLI::Range(0.01, 4.0));
  app.add_option("--batch", c.batch, "training batch")->capture_default_str()->check(CLI::Range(2, 4096));
  app.add_option("--eval-batch", c.eval_batch, "evaluation batch")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--threads", c.threads, "intra-op threads (Debian's LibTorch starts with 1)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--warmup-steps", c.warmup_steps, "untimed steps first")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  app.add_option("--steps", c.steps, "timed training steps (a)")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--eval-batches", c.eval_batches, "timed evaluation batches (b)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--train-images", c.train_images, "epoch size for (c)")
      ->capture_default_str()
      ->check(CLI::Range(2, 10000000));
  app.add_option("--test-images", c.test_images, "test pass after the epoch (c)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  app.add_option("--gemm-n", c.gemm_n, "GEMM peak matrix side")->capture_default_str()->check(CLI::Range(64, 16384));
  app.add_option("--gemm-repeats", c.gemm_repeats, "GEMM peak: best of")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--flops-per-image", c.flops_per_image, "training-step FLOPs per image, for GFLOP/s")
      ->check(CLI::Range(0.0, 1e15));
  app.add_option("--flops-source", c.flops_source, "where --flops-per-image came from (for the report)");
  app.add_flag("--per-family", c.per_family, "(e): forward + backward of each family alone and the AdamW step alone");
  app.add_flag("--describe", c.describe, "print parameter counts (total, per expert, gate) as JSON and stop");
  app.add_option("--json", c.json_path, "write every figure as JSON");
  app.add_option("--weight-layout", c.weight_layout,
                 "auto (what jobs use: channels-last on the CPU), channels-last or default (NCHW)")
      ->transform(
          CLI::CheckedTransformer(std::map<std::string, WeightLayout>{{"auto", WeightLayout::kAuto},
                                                                      {"channels-last", WeightLayout::kChannelsLast},
                                                                      {"default", WeightLayout::kDefault}},
                                  CLI::ignore_case));
  app.add_option("--device", c.device_text, "cpu | cuda | cuda:N")->capture_default_str();
  app.add_option("--precision", precision_text,
                 "recipe.precision: fp32, bf16, fp16 (GPU only) or auto (worker/train/precision.h)")
      ->capture_default_str();
  app.add_flag("--step-only", c.step_only, "measure the training step (a) only (and (e) with --per-family)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const auto precision = ParsePrecisionSpecName(precision_text);
  if (!precision) {
    std::cerr << "throughput_bench: --precision: expected " << kPrecisionChoices << ", got '" << precision_text
              << "'\n";
    return 2;
  }
  c.precision = *precision;
  const auto device = ParseDevice(c.device_text);
  if (!device.ok()) {
    std::cerr << "throughput_bench: --device: " << device.status().message() << "\n";
    return 2;
  }
  c.device = *device;
  if (c.flops_per_image > 0 && c.flops_source.empty()) c.flops_source = "given";

  const auto& registry = BuiltinRegistry();
  if (c.describe) {
    std::cout << Describe(registry, c).dump() << "\n";
    return 0;
  }
  // Debian's LibTorch starts with one intra-op thread: set it, print what took.
  torch::set_num_threads(c.threads);
  const std::string load_before = LoadAverage();
  const Figures f = Measure(registry, c);
  PrintTable(f, c);
  if (!c.json_path.empty()) {
    std::ofstream out(c.json_path);
    out << ToJson(f, c, load_before).dump(2) << "\n";
    if (!out) throw std::runtime_error(c.json_path + ": cannot write");
  }
  return 0;
}

}  // namespace
}  // namespace moe4::worker::bench

int main(int argc, char** argv) {
  // The worker's OpenMP wait policy (may re-exec; see omp_env.h), so the
  // figures are what a worker gets; throughput.sh sets it for both sides.
  moe4::worker::PrepareCpuRuntime(argv);
  try {
    return moe4::worker::bench::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "throughput_bench: " << e.what() << "\n";
    return 1;
  }
}
