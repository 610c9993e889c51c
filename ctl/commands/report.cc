// moe4ctl report ID --html FILE: one self-contained HTML page with the
// leaderboard, accuracy curves of the top candidates, a family-by-family
// heatmap of mean accuracy and the coverage chart (ctl/report/).
#include <algorithm>
#include <ctime>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"
#include "ctl/report/assets.h"
#include "ctl/report/html_report.h"
#include "nlohmann/json.hpp"

namespace moe4::ctl {
namespace {

std::string Now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S %Z", &tm);
  return buffer;
}

}  // namespace

int Report(const ReportOptions& options, const CommandEnv& env) {
  if (!HaveChartLibrary()) {
    std::cerr << "moe4ctl: report: this moe4ctl was built without its chart library (MOE4_WITH_REPORT=OFF); "
                 "rebuild with Debian's libjs-chart.js installed\n";
    return kExitFailed;
  }
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  using Stub = moe4::v1::CampaignService::Stub;
  const std::string what = absl::StrCat("report ", options.campaign_id);
  ReportInputs in;
  in.generated_at = Now();

  moe4::v1::GetRequest get;
  get.set_campaign_id(options.campaign_id);
  if ((code = client->Call(&Stub::Get, get, &in.campaign, what))) return code;

  moe4::v1::LeaderboardRequest leaderboard;
  leaderboard.set_campaign_id(options.campaign_id);
  leaderboard.set_top(std::max(options.leaderboard, options.curves));
  if ((code = client->Call(&Stub::Leaderboard, leaderboard, &in.leaderboard, what))) return code;
  for (int i = 0; i < in.leaderboard.entries_size() && i < options.curves; ++i) {
    moe4::v1::GetJobRequest job;
    job.set_job_id(in.leaderboard.entries(i).job_id());
    moe4::v1::GetJobResponse curve;
    if ((code = client->Call(&Stub::GetJob, job, &curve, what))) return code;
    in.curves.push_back(std::move(curve));
  }
  // The table shows --leaderboard rows even when more were fetched for curves.
  while (in.leaderboard.entries_size() > options.leaderboard) in.leaderboard.mutable_entries()->RemoveLast();

  moe4::v1::FamilyStatsRequest families;
  families.set_campaign_id(options.campaign_id);
  if ((code = client->Call(&Stub::FamilyStats, families, &in.families, what))) return code;
  moe4::v1::PairStatsRequest pairs;
  pairs.set_campaign_id(options.campaign_id);
  if ((code = client->Call(&Stub::PairStats, pairs, &in.pairs, what))) return code;
  moe4::v1::CoverageRequest coverage;
  coverage.set_campaign_id(options.campaign_id);
  if ((code = client->Call(&Stub::Coverage, coverage, &in.coverage, what))) return code;
  for (const auto& rung : in.campaign.rungs()) {
    moe4::v1::FamilyStatsRequest per_rung;
    per_rung.set_campaign_id(options.campaign_id);
    per_rung.set_rung(rung.rung());
    in.rung_families.emplace_back();
    if ((code = client->Call(&Stub::FamilyStats, per_rung, &in.rung_families.back(), what))) return code;
  }

  const std::string html = RenderHtmlReport(in);
  std::ofstream file(options.html, std::ios::binary | std::ios::trunc);
  if (!file || !(file << html) || !file.flush()) {
    std::cerr << "moe4ctl: --html: cannot write " << options.html << "\n";
    return kExitUsage;
  }
  if (env.format == OutputFormat::kJson) {
    const nlohmann::json json = {{"campaign_id", options.campaign_id},
                                 {"html", options.html},
                                 {"bytes", html.size()},
                                 {"curves", in.curves.size()}};
    *env.out << json.dump(2) << "\n";
  } else {
    *env.out << "wrote " << options.html << " (" << html.size() / 1024 << " KiB): campaign " << options.campaign_id
             << ", " << in.leaderboard.entries_size() << " leaderboard rows, " << in.curves.size() << " curves, "
             << in.families.families_size() << " families; opens offline\n";
  }
  return kExitOk;
}

}  // namespace moe4::ctl
