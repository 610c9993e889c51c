// moe4ctl export ID --format csv|json [--out FILE]: every job of a campaign
// with its epochs, for analysis elsewhere.
//
// CSV: one row per job and epoch (job columns repeated; a job without epochs
// has one row with the epoch columns empty); per-expert lists are
// ';'-separated in `families` order. JSON: {"campaign": ..., "jobs": [...]},
// one job per line, with the proto field names of JobInfo and EpochMetrics.
// Jobs are fetched in pages, so a 100,000-job campaign streams through.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"

namespace moe4::ctl {
namespace {

// Jobs per ListJobs page: about 100,000 epoch rows (~25 MB) per response,
// well under the 64 MiB the channel accepts, whatever the recipe's epochs.
int PageSize(int epochs) { return std::clamp(100000 / std::max(1, epochs), 1, 1000); }

std::string Doubles(const google::protobuf::RepeatedField<double>& values) {
  return absl::StrJoin(values, ";", [](std::string* out, double v) { out->append(ExactNumber(v)); });
}

const std::vector<std::string>& CsvHeader() {
  static const std::vector<std::string> header = {
      "campaign_id", "job_id", "families", "state", "attempt", "final_test_accuracy", "best_test_accuracy",
      "parameter_count", "train_seconds", "worker_name", "error", "epoch", "train_loss", "train_accuracy",
      "test_loss", "test_accuracy", "lr", "routing_entropy", "dead_experts", "ecology", "temperature",
      "epoch_seconds", "images_per_second", "peak_memory_bytes", "gate_mean", "routing_share", "expert_accuracy",
      // Added later, so at the end: the job's replicate, seed and selected
      // epoch with its validation and test accuracy, then the epoch's
      // validation figures (empty without a validation split).
      "replicate", "seed", "selected_epoch", "selected_validation_accuracy", "selected_test_accuracy",
      "validation_loss", "validation_accuracy"};
  return header;
}

// The job's columns after the epoch's (see CsvHeader).
std::vector<std::string> JobTail(const moe4::v1::JobInfo& j) {
  const bool succeeded = j.state() == moe4::v1::JOB_STATE_SUCCEEDED;
  return {std::to_string(j.replicate()), std::to_string(j.seed()),
          succeeded ? std::to_string(j.selected_epoch()) : "",
          succeeded && !std::isnan(j.validation_accuracy()) ? ExactNumber(j.validation_accuracy()) : "",
          succeeded ? ExactNumber(j.selected_test_accuracy()) : ""};
}

void AppendCsvRows(const moe4::v1::JobInfo& j, Table& table) {
  const bool succeeded = j.state() == moe4::v1::JOB_STATE_SUCCEEDED;
  std::vector<std::string> job = {std::to_string(j.campaign_id()),
                                  std::to_string(j.job_id()),
                                  absl::StrJoin(j.families(), "+"),
                                  std::string(JobStateName(j.state())),
                                  std::to_string(j.attempt()),
                                  succeeded ? ExactNumber(j.final_test_accuracy()) : "",
                                  succeeded ? ExactNumber(j.best_test_accuracy()) : "",
                                  succeeded ? std::to_string(j.parameter_count()) : "",
                                  succeeded ? ExactNumber(j.train_seconds()) : "",
                                  j.worker_name(),
                                  j.error()};
  if (j.epochs_size() == 0) {
    job.resize(CsvHeader().size() - 7);  // up to the job's tail
    for (auto& cell : JobTail(j)) job.push_back(std::move(cell));
    job.resize(CsvHeader().size());
    table.AddRow(std::move(job));
    return;
  }
  for (const auto& e : j.epochs()) {
    std::vector<std::string> row = job;
    for (std::string cell :
         {std::to_string(e.epoch()), ExactNumber(e.train_loss()), ExactNumber(e.train_accuracy()),
          ExactNumber(e.test_loss()), ExactNumber(e.test_accuracy()), ExactNumber(e.lr()),
          ExactNumber(e.routing_entropy()), std::to_string(e.dead_experts()), ExactNumber(e.ecology()),
          ExactNumber(e.temperature()), ExactNumber(e.epoch_seconds()), ExactNumber(e.images_per_second()),
          std::to_string(e.peak_memory_bytes()), Doubles(e.gate_mean()), Doubles(e.routing_share()),
          Doubles(e.expert_accuracy())}) {
      row.push_back(std::move(cell));
    }
    for (auto& cell : JobTail(j)) row.push_back(std::move(cell));
    row.push_back(e.has_validation_loss() ? ExactNumber(e.validation_loss()) : "");
    row.push_back(e.has_validation_accuracy() ? ExactNumber(e.validation_accuracy()) : "");
    table.AddRow(std::move(row));
  }
}

}  // namespace

int Export(const ExportOptions& options, const CommandEnv& env) {
  if (options.format != "csv" && options.format != "json") {
    std::cerr << "moe4ctl: --format: must be csv or json, got \"" << options.format << "\"\n";
    return kExitUsage;
  }
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  // The campaign first: an unknown id fails before any file is created.
  moe4::v1::GetRequest get;
  get.set_campaign_id(options.campaign_id);
  moe4::v1::GetResponse campaign;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::Get, get, &campaign,
                           absl::StrCat("export ", options.campaign_id)))) {
    return code;
  }
  std::ofstream file;
  if (!options.out.empty()) {
    file.open(options.out, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::cerr << "moe4ctl: --out: cannot write " << options.out << "\n";
      return kExitUsage;
    }
  }
  std::ostream& out = options.out.empty() ? *env.out : file;
  const bool json = options.format == "json";
  if (json) {
    std::string summary = ToJsonLine(campaign.campaign());
    summary.pop_back();
    out << "{\"campaign\": " << summary << ",\n\"jobs\": [";
  }
  moe4::v1::ListJobsRequest request;
  request.set_campaign_id(options.campaign_id);
  request.set_include_epochs(true);
  const int page_size = PageSize(campaign.campaign().epochs());
  request.set_limit(page_size);
  int64_t jobs = 0, epochs = 0;
  bool header = true;
  for (;;) {
    moe4::v1::ListJobsResponse page;
    if ((code = client->Call(&moe4::v1::CampaignService::Stub::ListJobs, request, &page,
                             absl::StrCat("export ", options.campaign_id), 300))) {
      return code;
    }
    Table table(CsvHeader());
    for (const auto& j : page.jobs()) {
      epochs += j.epochs_size();
      if (json) {
        std::string line = ToJsonLine(j);
        line.pop_back();
        out << (jobs == 0 ? "\n" : ",\n") << line;
      } else {
        AppendCsvRows(j, table);
      }
      ++jobs;
    }
    if (!json) {
      std::ostringstream csv;
      table.PrintCsv(csv);
      std::string text = csv.str();
      if (!header) text = text.substr(text.find('\n') + 1);  // one header for all pages
      header = false;
      out << text;
    }
    if (page.jobs_size() < page_size) break;
    request.set_after_job_id(page.jobs(page.jobs_size() - 1).job_id());
  }
  if (json) out << "\n]}\n";
  out.flush();
  if (!out) {
    std::cerr << "moe4ctl: export: writing " << (options.out.empty() ? "stdout" : options.out) << " failed\n";
    return kExitFailed;
  }
  if (!options.out.empty()) {
    std::cerr << "exported campaign " << options.campaign_id << ": " << jobs << " jobs, " << epochs << " epochs to "
              << options.out << "\n";
  }
  return kExitOk;
}

}  // namespace moe4::ctl
