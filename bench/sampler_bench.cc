// Sampler benchmark (issue 9, item 4): how fast the samplers draw at scale,
// and how evenly each covers the pool at the published scale.
//
//   sampler_bench [--json FILE] [--repeats R] [--seed S]
//
// Prints two tables and, with --json, writes the same figures as one JSON
// object. Timings are the best of R runs (default 3) of one call to
// SampleCombinationRanks; coverage uses one seed (default 1).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/combinatorics.h"
#include "common/sampling.h"

namespace moe4 {
namespace {

constexpr double kTargetSeconds = 2.0;  // issue 9: 1e6 stratified samples in under 2 s

struct DrawResult {
  SamplerKind kind;
  int n, k;
  uint64_t budget;
  std::vector<double> seconds;  // one per run
  double Best() const { return *std::min_element(seconds.begin(), seconds.end()); }
};

struct CoverageResult {
  SamplerKind kind;
  int n, k;
  uint64_t budget;
  CoverageReport report;
  int min_count = 0, max_count = 0;
};

int Fail(const std::string& message) {
  std::cerr << "sampler_bench: " << message << "\n";
  return 1;
}

std::string Number(double value, int precision) {
  if (std::isinf(value)) return "inf";
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(precision);
  out << value;
  return out.str();
}

// JSON has no infinity: an absent family's ratio is null.
std::string JsonNumber(double value) { return std::isinf(value) ? "null" : Number(value, 6); }

int Run(int argc, char** argv) {
  std::string json_path;
  int repeats = 3;
  uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json" && has_value) {
      json_path = argv[++i];
    } else if (arg == "--repeats" && has_value) {
      repeats = std::atoi(argv[++i]);
      if (repeats < 1) return Fail("--repeats: must be at least 1");
    } else if (arg == "--seed" && has_value) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      return Fail("usage: sampler_bench [--json FILE] [--repeats R] [--seed S]");
    }
  }

  // Speed at N=100, K=8: C(100,8) = 186,087,894,300, never enumerated.
  std::vector<DrawResult> draws;
  for (SamplerKind kind : {SamplerKind::kStratified, SamplerKind::kUniform}) {
    DrawResult draw{kind, 100, 8, 1'000'000, {}};
    for (int run = 0; run < repeats; ++run) {
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<std::vector<uint64_t>> ranks =
          SampleCombinationRanks(kind, draw.n, draw.k, draw.budget, seed + run);
      const auto stop = std::chrono::steady_clock::now();
      if (!ranks.ok()) return Fail(std::string(ranks.status().message()));
      if (ranks->size() != draw.budget) return Fail("wrong number of candidates");
      draw.seconds.push_back(std::chrono::duration<double>(stop - start).count());
    }
    draws.push_back(draw);
  }

  // Coverage at the published scale: 29 families, K=4, the 1,140 and 4,463
  // budgets of the published campaign, and exhaustive over all 23,751.
  const int n = 29, k = 4;
  std::vector<CoverageResult> coverages;
  for (uint64_t budget : {uint64_t{1140}, uint64_t{4463}, Binomial(n, k)}) {
    for (SamplerKind kind :
         {SamplerKind::kLexicographic, SamplerKind::kUniform, SamplerKind::kStratified, SamplerKind::kExhaustive}) {
      if ((kind == SamplerKind::kExhaustive) != (budget == Binomial(n, k))) continue;
      absl::StatusOr<std::vector<uint64_t>> ranks = SampleCombinationRanks(kind, n, k, budget, seed);
      if (!ranks.ok()) return Fail(std::string(ranks.status().message()));
      std::vector<std::vector<int>> combinations;
      combinations.reserve(ranks->size());
      for (uint64_t rank : *ranks) combinations.push_back(UnrankCombination(rank, n, k));
      CoverageResult result{kind, n, k, budget, ComputeCoverage(combinations, n, k)};
      const auto [lo, hi] =
          std::minmax_element(result.report.families.begin(), result.report.families.end(),
                              [](const FamilyCoverage& a, const FamilyCoverage& b) { return a.count < b.count; });
      result.min_count = lo->count;
      result.max_count = hi->count;
      coverages.push_back(result);
    }
  }

  std::printf("Draw time, N=100 K=8 (C = %llu), best of %d run(s)\n", static_cast<unsigned long long>(Binomial(100, 8)),
              repeats);
  std::printf("  %-13s %10s %10s %12s\n", "sampler", "budget", "seconds", "ns/candidate");
  for (const DrawResult& d : draws) {
    std::printf("  %-13s %10llu %10.3f %12.0f\n", std::string(SamplerName(d.kind)).c_str(),
                static_cast<unsigned long long>(d.budget), d.Best(), d.Best() * 1e9 / d.budget);
  }
  std::printf("  target: stratified under %.1f s\n\n", kTargetSeconds);

  std::printf("Coverage, N=%d K=%d, seed %llu (ideal share %.4f; anchor: share > %.4f)\n", n, k,
              static_cast<unsigned long long>(seed), static_cast<double>(k) / n, 2.0 * k / n);
  std::printf("  %-13s %7s %9s %9s %13s %7s %12s\n", "sampler", "budget", "min count", "max count", "max/min ratio",
              "anchors", "pairs");
  for (const CoverageResult& c : coverages) {
    std::printf("  %-13s %7llu %9d %9d %13s %7d %5llu / %llu\n", std::string(SamplerName(c.kind)).c_str(),
                static_cast<unsigned long long>(c.budget), c.min_count, c.max_count,
                Number(c.report.max_min_ratio, 4).c_str(), c.report.anchors,
                static_cast<unsigned long long>(c.report.pairs_covered),
                static_cast<unsigned long long>(c.report.pairs_total));
  }

  if (!json_path.empty()) {
    std::ofstream out(json_path);
    if (!out) return Fail("--json: cannot write " + json_path);
    out << "{\"benchmark\": \"sampler\", \"seed\": " << seed << ", \"repeats\": " << repeats
        << ", \"target_seconds\": " << kTargetSeconds << ",\n \"draw\": [";
    for (size_t i = 0; i < draws.size(); ++i) {
      const DrawResult& d = draws[i];
      out << (i ? ",\n  " : "\n  ") << "{\"sampler\": \"" << SamplerName(d.kind) << "\", \"n\": " << d.n
          << ", \"k\": " << d.k << ", \"budget\": " << d.budget << ", \"best_seconds\": " << JsonNumber(d.Best())
          << ", \"seconds\": [";
      for (size_t r = 0; r < d.seconds.size(); ++r) out << (r ? ", " : "") << JsonNumber(d.seconds[r]);
      out << "]}";
    }
    out << "],\n \"coverage\": [";
    for (size_t i = 0; i < coverages.size(); ++i) {
      const CoverageResult& c = coverages[i];
      out << (i ? ",\n  " : "\n  ") << "{\"sampler\": \"" << SamplerName(c.kind) << "\", \"n\": " << c.n
          << ", \"k\": " << c.k << ", \"budget\": " << c.budget << ", \"min_count\": " << c.min_count
          << ", \"max_count\": " << c.max_count << ", \"max_min_ratio\": " << JsonNumber(c.report.max_min_ratio)
          << ", \"anchors\": " << c.report.anchors << ", \"pairs_covered\": " << c.report.pairs_covered
          << ", \"pairs_total\": " << c.report.pairs_total << "}";
    }
    out << "]}\n";
    if (!out) return Fail("--json: error writing " + json_path);
  }
  return 0;
}

}  // namespace
}  // namespace moe4

int main(int argc, char** argv) { return moe4::Run(argc, argv); }
