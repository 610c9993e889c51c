// moe4-train: the worker's training core without gRPC or Postgres. Trains one
// job spec (YAML) and prints one JSON line of metrics per epoch on stdout,
// then a summary line; logs go to stderr.
//
//   moe4-train --spec job.yaml [--device cpu|cuda:N] [--threads N]
//              [--data-root DIR] [--checkpoint FILE] [--log-level info]
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cmath>
#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>

#include "worker/data/loader.h"
#include "worker/models/registry.h"
#include "worker/train/device.h"
#include "worker/train/job_spec.h"
#include "worker/train/metrics_json.h"
#include "worker/train/omp_env.h"
#include "worker/train/recipe.h"
#include "worker/train/trainer.h"

namespace {

std::atomic<int> g_signal{0};

void OnSignal(int signo) {
  if (g_signal.exchange(signo) != 0) std::_Exit(128 + signo);  // second signal
}

}  // namespace

int main(int argc, char** argv) {
  using namespace moe4::worker;
  PrepareCpuRuntime(argv);  // may re-exec; see omp_env.h
  CLI::App app{"moe4-train: train one MoE job spec and print JSON metrics per epoch"};
  std::string spec_path;
  std::string device_text = "cpu";
  int threads = DefaultThreads();
  std::string data_root = kDefaultDataRoot;
  std::string checkpoint;
  std::string log_level = "info";
  app.add_option("--spec", spec_path, "job spec YAML (families, dataset, recipe)")->required();
  app.add_option("--device", device_text, "cpu | cuda | cuda:N")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (default: all cores)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--data-root", data_root,
                 "where datasets live: default directories are looked up here and the spec's dataset.path "
                 "must resolve inside it")
      ->capture_default_str();
  app.add_option("--checkpoint", checkpoint, "checkpoint file (resume if present)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("moe4-train"));
  spdlog::set_level(spdlog::level::from_str(log_level));

  auto job = LoadJobSpecFile(spec_path);
  if (!job.ok()) {
    spdlog::error("{}", std::string(job.status().message()));
    return 2;
  }
  FillRecipeDefaults(job->mutable_recipe());
  const auto& registry = BuiltinRegistry();
  if (auto s = ValidateJob(*job, registry); !s.ok()) {
    spdlog::error("{}: {}", spec_path, std::string(s.message()));
    return 2;
  }
  auto device = ParseDevice(device_text);
  if (!device.ok()) {
    spdlog::error("{}", std::string(device.status().message()));
    return 2;
  }
  torch::set_num_threads(threads);
  auto data = LoadDataset(job->dataset(), data_root);
  if (!data.ok()) {
    spdlog::error("{}", std::string(data.status().message()));
    return 2;
  }
  spdlog::info("dataset {}: {} train / {} validation / {} test images, {}x{}x{}, {} classes; {} threads on {}",
               job->dataset().name(), data->train.size(), data->validation.size(), data->test.size(), data->train.channels(), data->train.height(), data->train.width(),
               data->train.num_classes, threads, device->str());

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  TrainerOptions options;
  options.device = *device;
  options.threads = threads;
  options.checkpoint_path = checkpoint;
  Trainer trainer(registry, *job, *data, options);
  TrainerHooks hooks;
  hooks.on_epoch = [](const moe4::v1::EpochMetrics& m) { std::cout << MetricsToJson(m).dump() << std::endl; };
  hooks.stop_reason = []() -> std::optional<std::string> {
    if (g_signal.load() != 0) return std::string("interrupted");
    return std::nullopt;
  };
  const auto outcome = trainer.Run(hooks);
  const char* kind = outcome.kind == TrainOutcome::Kind::kCompleted ? "completed"
                     : outcome.kind == TrainOutcome::Kind::kStopped ? "stopped"
                                                                    : "failed";
  std::cout << nlohmann::json{{"outcome", kind},
                              {"reason", outcome.reason},
                              {"families", std::vector<std::string>(job->families().begin(), job->families().end())},
                              {"final_test_accuracy", outcome.final_test_accuracy},
                              {"best_test_accuracy", outcome.best_test_accuracy},
                              {"selected_epoch", outcome.selected_epoch},
                              {"validation_accuracy", std::isfinite(outcome.validation_accuracy)
                                                          ? nlohmann::json(outcome.validation_accuracy)
                                                          : nlohmann::json()},
                              {"selected_test_accuracy", outcome.selected_test_accuracy},
                              {"parameter_count", outcome.parameter_count},
                              {"train_seconds", outcome.train_seconds}}
                   .dump()
            << std::endl;
  if (outcome.kind == TrainOutcome::Kind::kFailed) {
    spdlog::error("training failed: {}", outcome.reason);
    return 1;
  }
  return outcome.kind == TrainOutcome::Kind::kCompleted ? 0 : 130;
}
