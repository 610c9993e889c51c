// Family table (issue 5): for every family in the worker's registry, the
// parameter count at width 1.0 and 0.5 and the forward+backward throughput of
// one expert alone on CPU, for a 32x32x3 input with 10 classes.
//
//   family_bench [--threads N] [--batch B] [--seconds S] [--min-steps N]
//                [--max-steps N] [--families A,B,...] [--catalogue FAMILIES.md]
//                [--json FILE] [--markdown FILE]
//                [--model-catalogue adapted|lemur] [--size N]
//
// Per family: build at width 0.5 (count only), build at width 1.0, one
// warm-up step (first-touch allocations, oneDNN/BLAS setup), then timed steps
// of zero_grad + forward + cross-entropy (+ the expert's auxiliary loss, i.e.
// BayesianNet-1's KL, as in training) + backward. No optimiser step: this is
// the expert's own cost, which dominates a mixture's step. The number of timed
// steps is sized from the warm-up step to about --seconds per family (between
// --min-steps and --max-steps), so heavy families cost few steps and the whole
// run stays at a few minutes on 2 cores. Prints a table; --json writes every
// figure, --markdown a table for docs/families.md (with the one-line structure
// from --catalogue, the markdown table of shared/FAMILIES.md, if given).
#include <torch/torch.h>
#include <torch/version.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
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
#include <vector>

#include "bench/training/machine_info.h"
#include "common/catalogue_kind.h"
#include "worker/models/auxiliary_loss.h"
#include "worker/models/registry.h"
#include "worker/moe/ensemble.h"
#include "worker/train/device.h"
#include "worker/train/omp_env.h"

namespace moe4::worker {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using moe4::bench::CpuModel;
using moe4::bench::Fixed;
using moe4::bench::LoadAverage;
using moe4::bench::MappedBlasLibraries;

// RGB input, 10 classes; the side is --size (32 by default: CIFAR), and for
// the lemur catalogue at least the family's smallest accepted input.
constexpr int kChannels = 3;
constexpr int kClasses = 10;
// Training divides the data-set-level KL by the training-set size; CIFAR's.
constexpr double kTrainImages = 50000;

struct Config {
  int threads = DefaultThreads();
  int64_t batch = 32;
  double seconds = 3.0;  // timed-phase budget per family
  int min_steps = 2;
  int max_steps = 20;
  std::vector<std::string> families;  // empty = every registered family
  std::string catalogue_path;
  std::string json_path;
  std::string markdown_path;
  Catalogue catalogue = Catalogue::kAdapted;  // which networks the ids build
  int size = 32;                              // input side, bounded per family by what it accepts
};

// The input side a family is measured at: --size, raised to the family's
// smallest accepted input and lowered to its largest (LEMUR's BayesianNet-1).
int SizeFor(const std::string& id, const Config& config) {
  int size = std::max(config.size, MinimumImageSize(config.catalogue, id));
  if (const int largest = MaximumImageSize(config.catalogue, id); largest > 0) size = std::min(size, largest);
  return size;
}

struct Machine {
  unsigned cores = 0;
  std::string cpu_model;
  std::vector<std::string> blas;  // BLAS/LAPACK libraries mapped into this process
  std::string libtorch = TORCH_VERSION;
  std::string load_before, load_after;  // /proc/loadavg's 1/5/15-minute figures
};

struct FamilyResult {
  std::string id;
  int size = 0;  // input side
  std::string description;  // from --catalogue; may be empty
  int64_t params = 0;       // width 1.0
  int64_t params_half = 0;  // width 0.5
  double warmup_seconds = 0;
  int steps = 0;
  double seconds = 0;  // timed steps only
  double ImagesPerSecond(int64_t batch) const { return seconds > 0 ? batch * steps / seconds : 0; }
  double MsPerStep() const { return steps > 0 ? 1000 * seconds / steps : 0; }
};

std::string Trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

// id -> the one-line structure from a markdown table such as
// shared/FAMILIES.md's: the cell right after a cell that is a registered id.
std::map<std::string, std::string> ReadCatalogue(const std::string& path, const std::vector<std::string>& ids) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("--catalogue " + path + ": cannot read");
  const std::set<std::string> known(ids.begin(), ids.end());
  std::map<std::string, std::string> descriptions;
  for (std::string line; std::getline(in, line);) {
    if (Trim(line).rfind('|', 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream row(line);
    for (std::string cell; std::getline(row, cell, '|');) cells.push_back(Trim(cell));
    for (size_t i = 0; i + 1 < cells.size(); ++i) {
      if (known.count(cells[i])) {
        descriptions[cells[i]] = cells[i + 1];
        break;
      }
    }
  }
  return descriptions;
}

ExpertOptions Input(const Config& config, int size, double width) {
  ExpertOptions o;
  o.in_channels = kChannels;
  o.image_size = size;
  o.num_classes = kClasses;
  o.width = width;
  o.catalogue = config.catalogue;
  return o;
}

// One training step of the expert alone, minus the optimiser.
void Step(torch::nn::AnyModule& expert, AuxiliaryLossSource* auxiliary, const torch::Tensor& images,
          const torch::Tensor& labels) {
  expert.ptr()->zero_grad();
  auto loss = torch::nn::functional::cross_entropy(expert.forward(images), labels);
  if (auxiliary != nullptr) loss = loss + auxiliary->auxiliary_loss() / kTrainImages;
  loss.backward();
}

FamilyResult Measure(const std::string& id, const Config& config) {
  FamilyResult r;
  r.id = id;
  r.size = SizeFor(id, config);
  torch::manual_seed(0);
  r.params_half = CountParameters(*BuiltinRegistry().Create(id, Input(config, r.size, 0.5)).ptr());
  auto expert = BuiltinRegistry().Create(id, Input(config, r.size, 1.0));
  r.params = CountParameters(*expert.ptr());
  expert.ptr()->train();  // dropout, drop-path, Diffuser's noising: the training cost
  auto* auxiliary = dynamic_cast<AuxiliaryLossSource*>(expert.ptr().get());

  const auto images = torch::randn({config.batch, kChannels, r.size, r.size});
  const auto labels = torch::randint(kClasses, {config.batch}, torch::kLong);
  auto start = Clock::now();
  Step(expert, auxiliary, images, labels);
  r.warmup_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  // The warm-up step over-estimates a step a little, so this errs on the
  // short side of the budget.
  const double wanted = config.seconds / std::max(r.warmup_seconds, 1e-6);
  r.steps = std::clamp(static_cast<int>(std::ceil(wanted)), config.min_steps, config.max_steps);
  start = Clock::now();
  for (int i = 0; i < r.steps; ++i) Step(expert, auxiliary, images, labels);
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

std::string Millions(int64_t count) { return Fixed(count / 1e6, 2) + " M"; }

std::string MachineLine(const Machine& m, const Config& c) {
  std::ostringstream out;
  out << m.cores << " cores (" << m.cpu_model << "), " << c.threads << " intra-op threads, LibTorch (TORCH_VERSION) " << m.libtorch
      << " CPU, BLAS ";
  for (size_t i = 0; i < m.blas.size(); ++i) out << (i ? ", " : "") << m.blas[i];
  if (m.blas.empty()) out << "(none mapped)";
  out << "; load average " << m.load_before << " before, " << m.load_after << " after";
  return out.str();
}

void PrintTable(const std::vector<FamilyResult>& results, const Machine& machine, const Config& config) {
  std::cout << "family_bench: " << CatalogueName(config.catalogue) << " catalogue, one expert, fwd+bwd, batch "
            << config.batch << " x " << kChannels << "xSxS (S = " << config.size << " or what the family accepts), "
            << kClasses << " classes\n"
            << MachineLine(machine, config) << "\n\n";
  std::cout << std::left << std::setw(18) << "family" << std::right << std::setw(6) << "S" << std::setw(14) << "params@1.0" << std::setw(14)
            << "params@0.5" << std::setw(7) << "steps" << std::setw(11) << "ms/step" << std::setw(10) << "img/s"
            << "\n";
  for (const auto& r : results) {
    std::cout << std::left << std::setw(18) << r.id << std::right << std::setw(6) << r.size << std::setw(14) << r.params << std::setw(14)
              << r.params_half << std::setw(7) << r.steps << std::setw(11) << Fixed(r.MsPerStep(), 1) << std::setw(10)
              << Fixed(r.ImagesPerSecond(config.batch), 1) << "\n";
  }
}

json ToJson(const std::vector<FamilyResult>& results, const Machine& machine, const Config& config,
            double total_seconds) {
  json families = json::array();
  for (const auto& r : results) {
    families.push_back({{"id", r.id},
                        {"input_size", r.size},
                        {"description", r.description},
                        {"params", r.params},
                        {"params_width_0_5", r.params_half},
                        {"warmup_seconds", r.warmup_seconds},
                        {"steps", r.steps},
                        {"seconds", r.seconds},
                        {"ms_per_step", r.MsPerStep()},
                        {"images_per_second", r.ImagesPerSecond(config.batch)}});
  }
  return {{"bench", "family_bench"},
          {"machine",
           {{"cores", machine.cores},
            {"cpu_model", machine.cpu_model},
            {"threads", config.threads},
            {"blas", machine.blas},
            {"libtorch", machine.libtorch},
            {"loadavg_before", machine.load_before},
            {"loadavg_after", machine.load_after}}},
          {"config",
           {{"batch", config.batch},
            {"catalogue", std::string(CatalogueName(config.catalogue))},
            {"channels", kChannels},
            {"size", config.size},
            {"classes", kClasses},
            {"seconds_per_family", config.seconds},
            {"min_steps", config.min_steps},
            {"max_steps", config.max_steps}}},
          {"families", families},
          {"total_seconds", total_seconds}};
}

std::string ToMarkdown(const std::vector<FamilyResult>& results, const Machine& machine, const Config& config) {
  std::ostringstream out;
  out << "Measured on " << MachineLine(machine, config) << ". The " << CatalogueName(config.catalogue)
      << " catalogue; one expert alone, forward + backward, batch " << config.batch << ", " << kChannels
      << "xSxS with S = " << config.size << " (or the family's accepted size), " << kClasses << " classes.\n\n";
  out << "| id | structure | S | params, width 1.0 | params, width 0.5 | fwd+bwd images/s |\n";
  out << "|---|---|---:|---:|---:|---:|\n";
  for (const auto& r : results) {
    out << "| " << r.id << " | " << r.description << " | " << r.size << " | " << Millions(r.params) << " | "
        << Millions(r.params_half) << " | " << Fixed(r.ImagesPerSecond(config.batch), 1) << " |\n";
  }
  return out.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error(path + ": cannot write");
}

int Run(int argc, char** argv) {
  Config config;
  CLI::App app{"family_bench: parameters and CPU fwd+bwd throughput of every expert family of a catalogue"};
  std::string catalogue_name = "adapted";
  app.add_option("--model-catalogue", catalogue_name, "which networks the ids build: adapted | lemur")
      ->capture_default_str()
      ->check(CLI::IsMember({"adapted", "lemur"}));
  app.add_option("--size", config.size, "input side in pixels (raised or lowered to what each family accepts)")
      ->capture_default_str()
      ->check(CLI::Range(8, 512));
  app.add_option("--threads", config.threads, "intra-op threads (Debian's LibTorch starts with 1)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--batch", config.batch, "images per step")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--seconds", config.seconds, "timed seconds per family, roughly")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--min-steps", config.min_steps, "timed steps at least")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-steps", config.max_steps, "timed steps at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--families", config.families, "comma-separated ids (default: every registered family)")
      ->delimiter(',');
  app.add_option("--catalogue", config.catalogue_path, "FAMILIES.md, for the structure column of --markdown")
      ->check(CLI::ExistingFile);
  app.add_option("--json", config.json_path, "write every figure as JSON");
  app.add_option("--markdown", config.markdown_path, "write the docs/families.md table");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  config.catalogue = *ParseCatalogue(catalogue_name);  // IsMember checked the name
  if (config.min_steps > config.max_steps) {
    std::cerr << "family_bench: --min-steps " << config.min_steps << " exceeds --max-steps " << config.max_steps
              << "\n";
    return 2;
  }
  const auto all = BuiltinRegistry().Ids(config.catalogue);  // byte order
  if (config.families.empty()) config.families = all;
  for (const auto& id : config.families) {
    if (!BuiltinRegistry().Contains(config.catalogue, id)) {
      std::cerr << "family_bench: unknown family '" << id << "'\n";
      return 2;
    }
  }
  std::map<std::string, std::string> descriptions;
  if (!config.catalogue_path.empty()) descriptions = ReadCatalogue(config.catalogue_path, all);

  torch::set_num_threads(config.threads);
  Machine machine;
  machine.cores = std::max(1u, std::thread::hardware_concurrency());
  machine.cpu_model = CpuModel();
  machine.load_before = LoadAverage();

  const auto start = Clock::now();
  std::vector<FamilyResult> results;
  for (const auto& id : config.families) {
    results.push_back(Measure(id, config));
    results.back().description = descriptions.count(id) ? descriptions[id] : "";
    std::cerr << "family_bench: " << id << " " << Fixed(results.back().ImagesPerSecond(config.batch), 1) << " img/s ("
              << results.back().steps << " steps)\n";
  }
  const double total = std::chrono::duration<double>(Clock::now() - start).count();
  // LibTorch loads its BLAS lazily on some paths: look after the runs.
  machine.blas = MappedBlasLibraries();
  machine.load_after = LoadAverage();

  PrintTable(results, machine, config);
  std::cout << "\ntotal " << Fixed(total, 1) << " s\n";
  if (!config.json_path.empty()) WriteFile(config.json_path, ToJson(results, machine, config, total).dump(2) + "\n");
  if (!config.markdown_path.empty()) WriteFile(config.markdown_path, ToMarkdown(results, machine, config));
  return 0;
}

}  // namespace
}  // namespace moe4::worker

int main(int argc, char** argv) {
  // Same OpenMP wait policy as moe4-worker (may re-exec; see omp_env.h), so
  // the figures are what a worker gets.
  moe4::worker::PrepareCpuRuntime(argv);
  try {
    return moe4::worker::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "family_bench: " << e.what() << "\n";
    return 1;
  }
}
