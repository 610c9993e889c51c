#include "ctl/commands.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/campaign_spec.h"
#include "common/combinatorics.h"
#include "common/sampling.h"
#include "common/status.h"
#include "moe4/v1/moe4.grpc.pb.h"

namespace moe4::ctl {
namespace {

int ExitCodeForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return kExitUsage;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded: return kExitUnavailable;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied: return kExitAuth;
    default: return kExitFailed;
  }
}

std::string_view StateName(moe4::v1::CampaignState state) {
  switch (state) {
    case moe4::v1::CAMPAIGN_STATE_ACTIVE: return "active";
    case moe4::v1::CAMPAIGN_STATE_PAUSED: return "paused";
    case moe4::v1::CAMPAIGN_STATE_CANCELLED: return "cancelled";
    case moe4::v1::CAMPAIGN_STATE_DONE: return "done";
    default: return "unknown";
  }
}

std::string_view JobStateName(moe4::v1::JobState state) {
  switch (state) {
    case moe4::v1::JOB_STATE_PENDING: return "pending";
    case moe4::v1::JOB_STATE_LEASED: return "leased";
    case moe4::v1::JOB_STATE_RUNNING: return "running";
    case moe4::v1::JOB_STATE_SUCCEEDED: return "succeeded";
    case moe4::v1::JOB_STATE_FAILED: return "failed";
    case moe4::v1::JOB_STATE_CANCELLED: return "cancelled";
    default: return "unknown";
  }
}

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

int DryRun(const std::string& file, const CampaignSpec& spec, OutputFormat format, std::ostream& out) {
  auto ranks = SampleCombinationRanks(spec.sampler, static_cast<int>(spec.pool.size()), spec.k, spec.budget, spec.seed);
  if (!ranks.ok()) {
    PrintSpecErrors(file, ranks.status());
    return kExitUsage;
  }
  moe4::v1::SubmitResponse response;
  response.set_jobs(static_cast<int32_t>(ranks->size()));
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
  if (format == OutputFormat::kJson) {
    out << ToJson(response);
    return kExitOk;
  }
  Table table({"#", "rank", "families"});
  for (int i = 0; i < response.combinations_size(); ++i) {
    const auto& c = response.combinations(i);
    table.AddRow({std::to_string(i + 1), std::to_string(c.rank()), absl::StrJoin(c.families(), " + ")});
  }
  if (format == OutputFormat::kCsv) {
    table.PrintCsv(out);
    return kExitOk;
  }
  out << "spec " << file << " is valid: campaign \"" << spec.name << "\", " << SamplerName(spec.sampler) << " sampler, "
      << spec.budget << " of C(" << spec.pool.size() << "," << spec.k << ") = "
      << Binomial(static_cast<int>(spec.pool.size()), spec.k) << " combinations (dry run: nothing created)\n\n";
  table.PrintAligned(out);
  out << "\ncoverage: max/min family count ratio " << report.max_min_ratio << ", pairs covered "
      << report.pairs_covered << "/" << report.pairs_total << ", anchors " << report.anchors << "\n\n";
  Table families({"FAMILY", "COUNT", "SHARE", "IDEAL", ""});
  for (const auto& f : coverage->families()) {
    families.AddRow({f.family(), std::to_string(f.count()), Percent(f.share()), Percent(f.ideal_share()),
                     f.anchor() ? "ANCHOR: in more than 2K/N of the candidates" : ""});
  }
  families.PrintAligned(out);
  return kExitOk;
}

int ReportConnectionError(const absl::Status& status) {
  std::cerr << "moe4ctl: " << status.message() << "\n";
  return ExitCodeForCode(status.code());
}

}  // namespace

int ExitCodeFor(const absl::Status& status) { return ExitCodeForCode(status.code()); }

int ReportRpcError(const grpc::Status& status, const std::string& what) {
  std::cerr << "moe4ctl: " << what << ": " << status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) std::cerr << " (is the coordinator running?)";
  std::cerr << "\n";
  return ExitCodeForCode(static_cast<absl::StatusCode>(status.error_code()));
}

int Submit(const SubmitOptions& options, const ConnectionOptions& connection_options, OutputFormat format,
           std::ostream& out) {
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
  if (options.dry_run) return DryRun(options.file, *spec, format, out);

  auto connection = Connection::Open(connection_options);
  if (!connection.ok()) return ReportConnectionError(connection.status());
  auto stub = moe4::v1::CampaignService::NewStub(connection->channel());
  moe4::v1::SubmitRequest request;
  request.set_spec_yaml(*yaml);
  moe4::v1::SubmitResponse response;
  auto context = connection->NewContext(120);
  const grpc::Status status = stub->Submit(context.get(), request, &response);
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      PrintSpecErrors(options.file, FromGrpcStatus(status));
      return kExitUsage;
    }
    return ReportRpcError(status, "submit");
  }
  if (format == OutputFormat::kJson) {
    out << ToJson(response);
  } else {
    out << "submitted campaign " << response.campaign_id() << " (\"" << spec->name << "\"): " << response.jobs()
        << " jobs\n";
  }
  return kExitOk;
}

int List(const ConnectionOptions& connection_options, OutputFormat format, std::ostream& out) {
  auto connection = Connection::Open(connection_options);
  if (!connection.ok()) return ReportConnectionError(connection.status());
  auto stub = moe4::v1::CampaignService::NewStub(connection->channel());
  moe4::v1::ListRequest request;
  moe4::v1::ListResponse response;
  auto context = connection->NewContext();
  if (auto status = stub->List(context.get(), request, &response); !status.ok()) return ReportRpcError(status, "list");
  if (format == OutputFormat::kJson) {
    out << ToJson(response);
    return kExitOk;
  }
  Table table({"ID", "NAME", "STATE", "K", "SAMPLER", "JOBS", "DONE", "FAILED", "BEST"});
  for (const auto& c : response.campaigns()) {
    table.AddRow({std::to_string(c.campaign_id()), c.name(), std::string(StateName(c.state())), std::to_string(c.k()),
                  c.sampler(), std::to_string(c.budget()), std::to_string(c.succeeded()), std::to_string(c.failed()),
                  c.succeeded() > 0 ? Percent(c.best_test_accuracy()) : "-"});
  }
  format == OutputFormat::kCsv ? table.PrintCsv(out) : table.PrintAligned(out);
  return kExitOk;
}

int Status(int64_t campaign_id, const ConnectionOptions& connection_options, OutputFormat format, std::ostream& out) {
  auto connection = Connection::Open(connection_options);
  if (!connection.ok()) return ReportConnectionError(connection.status());
  auto stub = moe4::v1::CampaignService::NewStub(connection->channel());
  moe4::v1::GetRequest request;
  request.set_campaign_id(campaign_id);
  moe4::v1::GetResponse response;
  auto context = connection->NewContext();
  if (auto status = stub->Get(context.get(), request, &response); !status.ok()) {
    return ReportRpcError(status, absl::StrCat("status ", campaign_id));
  }
  if (format == OutputFormat::kJson) {
    out << ToJson(response);
    return kExitOk;
  }
  const auto& c = response.campaign();
  Table table({"STATE", "JOBS"});
  table.AddRow({"pending", std::to_string(c.pending())});
  table.AddRow({"leased", std::to_string(c.leased())});
  table.AddRow({"running", std::to_string(c.running())});
  table.AddRow({"succeeded", std::to_string(c.succeeded())});
  table.AddRow({"failed", std::to_string(c.failed())});
  table.AddRow({"cancelled", std::to_string(c.cancelled())});
  if (format == OutputFormat::kCsv) {
    table.PrintCsv(out);
    return kExitOk;
  }
  const double fraction = response.epochs_total() > 0 ? double(response.epochs_done()) / response.epochs_total() : 0;
  const int remaining_epochs = response.epochs_total() - response.epochs_done();
  const int workers = std::max(1, response.busy_workers());
  out << "campaign " << c.campaign_id() << " \"" << c.name() << "\": " << StateName(c.state()) << ", K=" << c.k()
      << ", " << c.sampler() << " sampler, " << c.budget() << " jobs, dataset " << c.dataset() << "\n";
  out << "progress " << ProgressBar(fraction, 30) << "  " << response.epochs_done() << "/" << response.epochs_total()
      << " epochs";
  if (response.mean_epoch_seconds() > 0 && remaining_epochs > 0 && c.state() == moe4::v1::CAMPAIGN_STATE_ACTIVE) {
    out << ", ETA " << Duration(remaining_epochs * response.mean_epoch_seconds() / workers);
  }
  out << "\nworkers " << response.busy_workers() << " busy of " << response.live_workers() << " live\n";
  if (c.succeeded() > 0) out << "best test accuracy " << Percent(c.best_test_accuracy()) << "\n";
  if (!response.pending_reason().empty()) out << "waiting: " << response.pending_reason() << "\n";
  out << "\n";
  table.PrintAligned(out);
  return kExitOk;
}

int Leaderboard(const LeaderboardOptions& options, const ConnectionOptions& connection_options, OutputFormat format,
                std::ostream& out) {
  auto connection = Connection::Open(connection_options);
  if (!connection.ok()) return ReportConnectionError(connection.status());
  auto stub = moe4::v1::CampaignService::NewStub(connection->channel());
  moe4::v1::LeaderboardRequest request;
  request.set_campaign_id(options.campaign_id);
  request.set_top(options.top);
  request.set_by(options.by);
  moe4::v1::LeaderboardResponse response;
  auto context = connection->NewContext();
  if (auto status = stub->Leaderboard(context.get(), request, &response); !status.ok()) {
    return ReportRpcError(status, absl::StrCat("leaderboard ", options.campaign_id));
  }
  if (format == OutputFormat::kJson) {
    out << ToJson(response);
    return kExitOk;
  }
  Table table({"#", "JOB", "FAMILIES", "FINAL", "BEST", "EPOCHS", "TIME", "STATE"});
  int place = 0;
  for (const auto& e : response.entries()) {
    table.AddRow({std::to_string(++place), std::to_string(e.job_id()), absl::StrJoin(e.families(), " + "),
                  Percent(e.final_test_accuracy()), Percent(e.best_test_accuracy()), std::to_string(e.epochs_done()),
                  Duration(e.train_seconds()), std::string(JobStateName(e.state()))});
  }
  format == OutputFormat::kCsv ? table.PrintCsv(out) : table.PrintAligned(out);
  return kExitOk;
}

}  // namespace moe4::ctl
