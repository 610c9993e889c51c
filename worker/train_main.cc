// moe4-train: the worker's training core without gRPC or Postgres. Trains a
// job spec (YAML) and prints one JSON line of metrics per epoch on stdout,
// then a summary line; logs go to stderr.
//
//   moe4-train --spec job.yaml [--spec more.yaml ...] [--jobs-per-device N]
//              [--device cpu|cuda:N] [--threads N] [--data-root DIR]
//              [--data-cache DIR] [--max-image-pixels N]
//              [--checkpoint FILE] [--log-level info]
//
// Several specs train N at a time in this one process, each on its own
// thread and (on a GPU) its own CUDA stream, as moe4-worker
// --jobs-per-device N runs leased jobs; their lines then carry "spec" (the
// file), and each spec ends with its own summary line.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "worker/data/image_set.h"
#include "worker/data/loader.h"
#include "worker/models/registry.h"
#include "worker/train/device.h"
#include "worker/train/job_spec.h"
#include "worker/train/metrics_json.h"
#include "worker/train/omp_env.h"
#include "worker/train/recipe.h"
#include "worker/train/trainer.h"

namespace {

using moe4::worker::TrainOutcome;

std::atomic<int> g_signal{0};

void OnSignal(int signo) {
  if (g_signal.exchange(signo) != 0) std::_Exit(128 + signo);  // second signal
}

// One spec of the command line, with its dataset once loaded.
struct SpecRun {
  std::string path;
  moe4::v1::JobAssignment job;
  std::shared_ptr<const moe4::worker::DatasetPair> data;
};

// {"train/cat": 2, "test/dog": 1}: bad files left out, per split and class.
nlohmann::json SkippedJson(const std::vector<moe4::worker::BadImage>& skipped) {
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [key, n] : moe4::worker::SkippedCounts(skipped)) counts[key] = n;
  return counts;
}

nlohmann::json Summary(const SpecRun& run, const TrainOutcome& outcome) {
  const char* kind = outcome.kind == TrainOutcome::Kind::kCompleted ? "completed"
                     : outcome.kind == TrainOutcome::Kind::kStopped ? "stopped"
                                                                    : "failed";
  return {{"outcome", kind},
          {"reason", outcome.reason},
          {"families", std::vector<std::string>(run.job.families().begin(), run.job.families().end())},
          {"final_test_accuracy", outcome.final_test_accuracy},
          {"best_test_accuracy", outcome.best_test_accuracy},
          {"selected_epoch", outcome.selected_epoch},
          {"validation_accuracy", std::isfinite(outcome.validation_accuracy) ? nlohmann::json(outcome.validation_accuracy)
                                                                             : nlohmann::json()},
          {"selected_test_accuracy", outcome.selected_test_accuracy},
          {"parameter_count", outcome.parameter_count},
          {"train_seconds", outcome.train_seconds},
          {"skipped_images", SkippedJson(run.data->skipped)}};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace moe4::worker;
  PrepareCpuRuntime(argv);  // may re-exec; see omp_env.h
  CLI::App app{"moe4-train: train MoE job specs and print JSON metrics per epoch"};
  std::vector<std::string> spec_paths;
  std::string device_text = "cpu";
  int threads = DefaultThreads();
  int jobs_per_device = 1;
  std::string data_root = kDefaultDataRoot;
  std::string data_cache;
  int64_t max_image_pixels = kDefaultMaxImagePixels;
  std::string checkpoint;
  std::string log_level = "info";
  app.add_option("--spec", spec_paths, "job spec YAML (families, dataset, recipe); repeat for several")->required();
  app.add_option("--jobs-per-device", jobs_per_device,
                 "specs trained at once, each on its own thread and CUDA stream (as moe4-worker's flag)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--device", device_text, "cpu | cuda | cuda:N")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads of each job (default: all cores)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--data-root", data_root,
                 "where datasets live: default directories are looked up here and the spec's dataset.path "
                 "must resolve inside it")
      ->capture_default_str();
  app.add_option("--data-cache", data_cache,
                 "where folder/tinyimagenet datasets keep their decoded images; default "
                 "<dataset>/.moe4-cache, 'none' = never cache");
  app.add_option("--max-image-pixels", max_image_pixels,
                 "folder/tinyimagenet: an image whose header claims more pixels is a bad file")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--checkpoint", checkpoint, "checkpoint file (resume if present); one --spec only");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("moe4-train"));
  spdlog::set_level(spdlog::level::from_str(log_level));
  if (!checkpoint.empty() && spec_paths.size() > 1) {
    spdlog::error("--checkpoint: one checkpoint file cannot serve {} specs; give one --spec", spec_paths.size());
    return 2;
  }

  const auto& registry = BuiltinRegistry();
  std::vector<SpecRun> runs;
  for (const auto& path : spec_paths) {
    auto job = LoadJobSpecFile(path);
    if (!job.ok()) {
      spdlog::error("{}", std::string(job.status().message()));
      return 2;
    }
    FillRecipeDefaults(job->mutable_recipe());
    if (auto s = ValidateJob(*job, registry); !s.ok()) {
      spdlog::error("{}: {}", path, std::string(s.message()));
      return 2;
    }
    runs.push_back({path, *std::move(job), nullptr});
  }
  auto device = ParseDevice(device_text);
  if (!device.ok()) {
    spdlog::error("{}", std::string(device.status().message()));
    return 2;
  }
  torch::set_num_threads(threads);
  // Each distinct dataset is loaded once, before any training starts.
  std::map<std::string, std::shared_ptr<const DatasetPair>> datasets;
  for (auto& run : runs) {
    auto& data = datasets[run.job.dataset().SerializeAsString()];
    if (!data) {
      LoadOptions load;
      load.data_root = data_root;
      load.data_cache = data_cache;
      load.max_image_pixels = max_image_pixels;
      load.threads = threads;
      auto loaded = LoadDataset(run.job.dataset(), load);
      if (!loaded.ok()) {
        spdlog::error("{}: {}", run.path, std::string(loaded.status().message()));
        return 2;
      }
      data = std::make_shared<const DatasetPair>(*std::move(loaded));
      spdlog::info("dataset {}: {} train / {} validation / {} test images, {}x{}x{}, {} classes; {} threads on {}",
                   run.job.dataset().name(), data->train.size(), data->validation.size(), data->test.size(),
                   data->train.channels(), data->train.height(), data->train.width(), data->train.num_classes,
                   threads, device->str());
      if (!data->skipped.empty()) {
        spdlog::warn("dataset {}: {}", run.job.dataset().name(), DescribeSkipped(data->skipped));
      }
    }
    run.data = data;
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  const bool several = runs.size() > 1;
  std::mutex out_mu;  // one whole line at a time on stdout
  auto print = [&](nlohmann::json line, const SpecRun& run) {
    if (several) line["spec"] = run.path;
    std::lock_guard<std::mutex> lock(out_mu);
    std::cout << line.dump() << std::endl;
  };
  std::vector<TrainOutcome::Kind> kinds(runs.size(), TrainOutcome::Kind::kFailed);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < runs.size(); i = next++) {
      const SpecRun& run = runs[i];
      TrainerOptions options;
      options.device = *device;
      options.threads = threads;
      options.checkpoint_path = checkpoint;
      Trainer trainer(registry, run.job, *run.data, options);
      TrainerHooks hooks;
      hooks.on_epoch = [&](const moe4::v1::EpochMetrics& m) { print(MetricsToJson(m), run); };
      hooks.stop_reason = []() -> std::optional<std::string> {
        if (g_signal.load() != 0) return std::string("interrupted");
        return std::nullopt;
      };
      const TrainOutcome outcome = trainer.Run(hooks);
      print(Summary(run, outcome), run);
      if (outcome.kind == TrainOutcome::Kind::kFailed) spdlog::error("{}: training failed: {}", run.path, outcome.reason);
      kinds[i] = outcome.kind;
    }
  };
  const int slots = std::min<int>(jobs_per_device, static_cast<int>(runs.size()));
  std::vector<std::thread> others;
  for (int s = 1; s < slots; ++s) others.emplace_back(worker);
  worker();
  for (auto& t : others) t.join();

  if (std::count(kinds.begin(), kinds.end(), TrainOutcome::Kind::kFailed) > 0) return 1;
  if (std::count(kinds.begin(), kinds.end(), TrainOutcome::Kind::kStopped) > 0) return 130;
  return 0;
}
