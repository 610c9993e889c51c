// moe4ctl submit FILE [--dry-run]: validate a campaign spec, then either show
// what it would sample (offline) or create it on the coordinator.
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/campaign_spec.h"
#include "common/combinatorics.h"
#include "common/memory_estimate.h"
#include "common/sampling.h"
#include "common/status.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"

namespace moe4::ctl {
namespace {

absl::StatusOr<std::string> ReadSpecFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Prefixes each line of a validation error with the file name, like a compiler.
void PrintSpecErrors(const std::string& file, const absl::Status& status) {
  for (auto line : absl::StrSplit(status.message(), '\n')) std::cerr << file << ": " << line << "\n";
}

int DryRun(const std::string& file, const CampaignSpec& spec, const CommandEnv& env) {
  std::ostream& out = *env.out;
  auto ranks = SampleCombinationRanks(spec.sampler, static_cast<int>(spec.pool.size()), spec.k, spec.budget, spec.seed);
  if (!ranks.ok()) {
    PrintSpecErrors(file, ranks.status());
    return kExitUsage;
  }
  moe4::v1::SubmitResponse response;
  response.set_jobs(static_cast<int32_t>(ranks->size() * static_cast<size_t>(spec.replicates)));
  std::vector<std::vector<int>> combinations;
  for (uint64_t rank : *ranks) {
    combinations.push_back(UnrankCombination(rank, static_cast<int>(spec.pool.size()), spec.k));
    auto* combination = response.add_combinations();
    combination->set_rank(static_cast<int64_t>(rank));
    for (const auto& family : FamiliesOfRank(spec, rank)) combination->add_families(family);
  }
  const CoverageReport report = ComputeCoverage(combinations, static_cast<int>(spec.pool.size()), spec.k);
  auto* coverage = response.mutable_coverage();
  coverage->set_candidates(report.candidates);
  coverage->set_max_min_ratio(report.max_min_ratio);
  coverage->set_pairs_covered(static_cast<int32_t>(report.pairs_covered));
  coverage->set_pairs_total(static_cast<int32_t>(report.pairs_total));
  for (size_t i = 0; i < spec.pool.size(); ++i) {
    auto* family = coverage->add_families();
    family->set_family(spec.pool[i]);
    family->set_count(report.families[i].count);
    family->set_share(report.families[i].share);
    family->set_ideal_share(report.ideal_share);
    family->set_anchor(report.families[i].anchor);
  }
  std::vector<std::vector<std::string>> families_of_jobs;
  for (const auto& c : response.combinations()) families_of_jobs.emplace_back(c.families().begin(), c.families().end());
  const CampaignMemoryEstimate memory = EstimateCampaignMemory(spec, families_of_jobs);
  response.set_memory_estimate_mb(memory.heaviest_mb);
  for (const auto& f : memory.heaviest_families) response.add_memory_estimate_families(f);
  for (const auto& w : memory.warnings) response.add_warnings(w);
  if (env.format == OutputFormat::kJson) {
    out << ToJson(response);
    return kExitOk;
  }
  Table table({"#", "rank", "families"});
  for (int i = 0; i < response.combinations_size(); ++i) {
    const auto& c = response.combinations(i);
    table.AddRow({std::to_string(i + 1), std::to_string(c.rank()), absl::StrJoin(c.families(), " + ")});
  }
  if (env.format == OutputFormat::kCsv) {
    table.PrintCsv(out);
    return kExitOk;
  }
  out << "spec " << file << " is valid: campaign \"" << spec.name << "\", " << SamplerName(spec.sampler) << " sampler, "
      << CatalogueName(spec.catalogue) << " catalogue, " << spec.budget << " of C(" << spec.pool.size() << "," << spec.k << ") = "
      << Binomial(static_cast<int>(spec.pool.size()), spec.k) << " combinations"
      << (spec.replicates > 1 ? absl::StrCat(", ", spec.replicates, " replicates each (", response.jobs(), " jobs)") : "")
      << ", " << SelectionName(spec.selection) << " selection"
      << (spec.dataset.validation_fraction() > 0
              ? absl::StrCat(" on a ", spec.dataset.validation_fraction(), " validation split")
              : std::string())
      << " (dry run: nothing created)\n";
  if (spec.schedule.kind == ScheduleKind::kAsha) {
    out << "schedule asha: rungs at " << absl::StrJoin(RungEpochs(spec.schedule), ", ") << " epochs, reduction factor "
        << spec.schedule.reduction_factor << ": every combination trains rung 0, the top 1/"
        << spec.schedule.reduction_factor << " of each rung by validation accuracy goes on\n";
  }
  const std::string& dataset = spec.dataset.name();
  if (dataset == "folder" || dataset == "tinyimagenet") {
    // Image files live on the workers' disks: say what was not checked.
    out << "dataset " << dataset << (spec.dataset.path().empty() ? "" : " at " + spec.dataset.path())
        << ": its layout and files are checked by each worker, under its --data-root, when a job starts"
        << (InputImageSize(spec.dataset) == 0
                ? "; without dataset.resize the image size is unknown here, so the pool was not checked against it"
                : "")
        << "\n";
  }
  // The coordinator compares the same estimate with its registered workers'
  // memory at submit; offline, only the figure can be shown.
  out << "memory: the heaviest job (" << absl::StrJoin(memory.heaviest_families, " + ") << ") needs ~"
      << memory.heaviest_mb << " MiB, the lightest ~" << memory.lightest_mb << " MiB (estimate from "
      << MemoryEstimateFields(spec)
      << "); at submit the coordinator refuses the spec if no registered worker has that much device memory\n";
  for (const auto& w : memory.warnings) out << "warning: " << w << "\n";
  out << "\n";
  table.PrintAligned(out);
  out << "\ncoverage: max/min family count ratio " << report.max_min_ratio << ", pairs covered "
      << report.pairs_covered << "/" << report.pairs_total << ", anchors " << report.anchors << "\n\n";
  // Uncoloured on purpose: scripts and tests grep these lines.
  Table families({"FAMILY", "COUNT", "SHARE", "IDEAL", ""});
  for (const auto& f : coverage->families()) {
    families.AddRow({f.family(), std::to_string(f.count()), Percent(f.share()), Percent(f.ideal_share()),
                     f.anchor() ? "ANCHOR: in more than 2K/N of the candidates" : ""});
  }
  families.PrintAligned(out);
  return kExitOk;
}

}  // namespace

int Submit(const SubmitOptions& options, const CommandEnv& env) {
  auto yaml = ReadSpecFile(options.file);
  if (!yaml.ok()) {
    std::cerr << "moe4ctl: " << yaml.status().message() << "\n";
    return kExitUsage;
  }
  // Validate here first: the user sees every mistake with its line before
  // anything is sent. The coordinator validates again; it trusts no client.
  auto spec = ParseCampaignSpec(*yaml);
  if (!spec.ok()) {
    PrintSpecErrors(options.file, spec.status());
    return kExitUsage;
  }
  if (options.dry_run) return DryRun(options.file, *spec, env);

  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::SubmitRequest request;
  request.set_spec_yaml(*yaml);
  moe4::v1::SubmitResponse response;
  // Materialising a 100,000-job campaign takes a while.
  auto context = client->connection().NewContext(120);
  const grpc::Status status = client->stub().Submit(context.get(), request, &response);
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      PrintSpecErrors(options.file, FromGrpcStatus(status));
      return kExitUsage;
    }
    return ReportRpcError(status, "submit");
  }
  if (env.format == OutputFormat::kJson) {
    *env.out << ToJson(response);
  } else {
    *env.out << "submitted campaign " << response.campaign_id() << " (\"" << spec->name << "\"): " << response.jobs()
             << " jobs, heaviest ~" << response.memory_estimate_mb() << " MiB (estimate)\n";
    for (const auto& w : response.warnings()) *env.out << "warning: " << w << "\n";
  }
  return kExitOk;
}

}  // namespace moe4::ctl
