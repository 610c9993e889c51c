// moe4-family-footprint: measures every family of both catalogues, and the
// gate, on the real networks (worker/train/footprint.h) and writes the table
// the coordinator estimates job memory from (common/family_footprint_table.inc),
// or checks that the compiled-in table still matches the networks.
//
//   moe4-family-footprint                       print the table on stdout
//   moe4-family-footprint --write FILE          write it to FILE
//   moe4-family-footprint --check               exit 1 naming every row that
//                                               drifted (the ctest does this)
//
// Parameter counts must match exactly; activation bytes within
// --tolerance (default 0.05, relative), since the heap a forward pass
// allocates can move by a few allocations between builds. Under another
// LibTorch version than the table's (the torch2 flavour) activations are
// compared within 0.5 only: 2.x keeps other tensors for backward
// (fused attention), and the table is generated with Debian's LibTorch.
#include <torch/torch.h>

#include <torch/version.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/catalogue.h"
#include "common/family_footprint.h"
#include "worker/models/registry.h"
#include "worker/train/footprint.h"

namespace {

using moe4::FamilyFootprint;

std::string Row(const FamilyFootprint& r) {
  std::ostringstream out;
  out << "{\"" << r.catalogue << "\", \"" << r.family << "\", " << r.small_size << ", " << r.large_size << ", "
      << r.parameters << ", " << r.parameters_half_width << ", " << r.parameters_per_class << ", "
      << r.activation_bytes_small << ", " << r.activation_bytes_large << ", " << r.activation_bytes_half_width
      << "},";
  return out.str();
}

bool Near(int64_t measured, int64_t stored, double tolerance) {
  const double scale = std::max<double>(1.0, static_cast<double>(std::max(measured, stored)));
  return std::fabs(static_cast<double>(measured - stored)) <= tolerance * scale;
}

// What differs between a measured row and the compiled-in one; "" if nothing.
std::string Drift(const FamilyFootprint& m, const FamilyFootprint* s, double tolerance) {
  if (s == nullptr) return "missing from the table";
  std::ostringstream out;
  auto exact = [&](const char* what, int64_t a, int64_t b) {
    if (a != b) out << " " << what << " " << b << " -> " << a << ";";
  };
  auto near = [&](const char* what, int64_t a, int64_t b) {
    if (!Near(a, b, tolerance)) out << " " << what << " " << b << " -> " << a << ";";
  };
  exact("small_size", m.small_size, s->small_size);
  exact("large_size", m.large_size, s->large_size);
  exact("parameters", m.parameters, s->parameters);
  exact("parameters_half_width", m.parameters_half_width, s->parameters_half_width);
  exact("parameters_per_class", m.parameters_per_class, s->parameters_per_class);
  near("activation_bytes_small", m.activation_bytes_small, s->activation_bytes_small);
  near("activation_bytes_large", m.activation_bytes_large, s->activation_bytes_large);
  near("activation_bytes_half_width", m.activation_bytes_half_width, s->activation_bytes_half_width);
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Measures every family's parameters and activation memory for the coordinator's job memory estimate"};
  std::string write_path;
  bool check = false;
  double tolerance = 0.05;
  app.add_option("--write", write_path, "write the table to this file (common/family_footprint_table.inc)");
  app.add_flag("--check", check, "compare with the compiled-in table; exit 1 naming every drifted row");
  app.add_option("--tolerance", tolerance, "relative tolerance on activation bytes for --check")->check(CLI::Range(0.0, 1.0));
  CLI11_PARSE(app, argc, argv);

  // One thread: the heap a forward allocates is then the same run to run.
  torch::set_num_threads(1);
  const auto& registry = moe4::worker::BuiltinRegistry();
  std::vector<FamilyFootprint> rows;
  std::vector<std::string> names;  // keeps the rows' string_views alive
  names.reserve(2 * moe4::FamilyCatalogue().size());
  int failures = 0;
  for (moe4::Catalogue catalogue : {moe4::Catalogue::kAdapted, moe4::Catalogue::kLemur}) {
    for (const std::string& family : moe4::FamilyCatalogue()) {
      names.push_back(family);
      auto row = moe4::worker::MeasureFamilyFootprint(registry, catalogue, names.back());
      if (!row.ok()) {
        std::cerr << "moe4-family-footprint: " << row.status().message() << "\n";
        ++failures;
        continue;
      }
      rows.push_back(*row);
      std::cerr << Row(*row) << "\n";
    }
  }
  rows.push_back(moe4::worker::MeasureGateFootprint());
  if (failures > 0) return 1;

  if (check) {
    const std::string_view table_torch = moe4::FootprintTorchVersion();
    if (table_torch != TORCH_VERSION) {
      tolerance = std::max(tolerance, 0.5);
      std::cout << "the table was measured with LibTorch " << table_torch << ", this is " << TORCH_VERSION
                << ": activations compared within " << tolerance << "\n";
    }
    int drifted = 0;
    for (const FamilyFootprint& m : rows) {
      const FamilyFootprint* stored =
          m.catalogue.empty() ? &moe4::GateFootprint()
                              : moe4::FindFamilyFootprint(*moe4::ParseCatalogue(m.catalogue), m.family);
      if (stored != nullptr && stored->family.empty()) stored = nullptr;
      const std::string drift = Drift(m, stored, tolerance);
      if (drift.empty()) continue;
      ++drifted;
      std::cout << "DRIFT " << (m.catalogue.empty() ? "" : std::string(m.catalogue) + " ") << m.family << ":" << drift
                << "\n";
    }
    if (moe4::FamilyFootprints().size() != rows.size()) {
      ++drifted;
      std::cout << "DRIFT the table has " << moe4::FamilyFootprints().size() << " rows, the registry measures "
                << rows.size() << "\n";
    }
    if (drifted > 0) {
      std::cout << drifted << " row(s) of common/family_footprint_table.inc no longer match the networks; regenerate "
                << "it from the repository root with\n  " << moe4::kFootprintRegenerateCommand
                << "\nthen rebuild and commit the table\n";
      return 1;
    }
    std::cout << "family footprint table matches the networks: " << rows.size() << " rows\n";
    return 0;
  }

  std::ostringstream table;
  table << "// Generated by moe4-family-footprint (worker/family_footprint_main.cc); regenerate with\n"
        << "//   " << moe4::kFootprintRegenerateCommand << "\n"
        << "// never edit by hand. Columns: catalogue, family, small_size, large_size, parameters,\n"
        << "// parameters_half_width, parameters_per_class, activation_bytes_small,\n"
        << "// activation_bytes_large, activation_bytes_half_width (common/family_footprint.h).\n"
        << "#define MOE4_FOOTPRINT_TORCH_VERSION \"" << TORCH_VERSION << "\"\n";
  for (const FamilyFootprint& r : rows) table << Row(r) << "\n";
  if (write_path.empty()) {
    std::cout << table.str();
    return 0;
  }
  std::ofstream out(write_path, std::ios::binary | std::ios::trunc);
  out << table.str();
  if (!out) {
    std::cerr << "moe4-family-footprint: cannot write " << write_path << "\n";
    return 1;
  }
  std::cerr << "wrote " << rows.size() << " rows to " << write_path << "\n";
  return 0;
}
