// moe4ctl families ID: per-family marginal statistics of the final accuracy,
// best mean first, with low-yield families flagged.
//
// Low yield: the family's whole 95 % confidence interval lies below the
// campaign mean, i.e. ensembles containing it are worse than the typical
// ensemble by more than chance explains. Families with n < 2 have no interval
// and are never flagged.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"
#include "nlohmann/json.hpp"

namespace moe4::ctl {
namespace {

// Every succeeded job adds its accuracy to exactly K families, so the
// n-weighted mean of the family means is the mean over jobs: no second call.
double CampaignMean(const moe4::v1::FamilyStatsResponse& r) {
  double sum = 0, n = 0;
  for (const auto& f : r.families()) {
    sum += f.mean() * f.n();
    n += f.n();
  }
  return n > 0 ? sum / n : NAN;
}

bool LowYield(const moe4::v1::FamilyStat& f, double campaign_mean) {
  return std::isfinite(f.ci95_high()) && f.ci95_high() < campaign_mean;
}

}  // namespace

int Families(int64_t campaign_id, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::FamilyStatsRequest request;
  request.set_campaign_id(campaign_id);
  moe4::v1::FamilyStatsResponse response;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::FamilyStats, request, &response,
                           absl::StrCat("families ", campaign_id)))) {
    return code;
  }
  const double mean = CampaignMean(response);
  if (env.format == OutputFormat::kJson) {
    nlohmann::json json = nlohmann::json::parse(ToJson(response));
    json["campaign_mean"] = std::isfinite(mean) ? nlohmann::json(mean) : nlohmann::json();
    for (int i = 0; i < response.families_size(); ++i) {
      json["families"][i]["low_yield"] = LowYield(response.families(i), mean);
    }
    *env.out << json.dump(2) << "\n";
    return kExitOk;
  }
  const bool csv = env.format == OutputFormat::kCsv;
  Table table(csv ? std::vector<std::string>{"FAMILY", "N", "MEAN", "STD", "CI95 LOW", "CI95 HIGH", "BEST", "LOW YIELD"}
                  : std::vector<std::string>{"FAMILY", "N", "MEAN", "STD", "95% CI", "BEST", ""});
  int low = 0;
  for (const auto& f : response.families()) {
    const bool low_yield = LowYield(f, mean);
    low += low_yield;
    if (csv) {
      table.AddRow({f.family(), std::to_string(f.n()), env.Pct(f.mean()), env.Pct(f.std()), env.Pct(f.ci95_low()),
                    env.Pct(f.ci95_high()), env.Pct(f.best()), low_yield ? "yes" : "no"});
      continue;
    }
    table.AddRow({f.family(), std::to_string(f.n()), Percent(f.mean()), Percent(f.std()),
                  std::isfinite(f.ci95_low())
                      // An accuracy lies in [0, 1]; the Student-t interval of a
                      // small n does not know that. The view and the JSON/CSV
                      // keep the raw bounds.
                      ? absl::StrCat(Percent(std::max(0.0, f.ci95_low())), " .. ",
                                     Percent(std::min(1.0, f.ci95_high())))
                      : "-",
                  Percent(f.best()), low_yield ? env.style.Yellow("LOW YIELD: CI below campaign mean") : ""});
  }
  if (csv) {
    table.PrintCsv(*env.out);
    return kExitOk;
  }
  std::ostream& out = *env.out;
  if (response.families_size() == 0) {
    out << "campaign " << campaign_id << " has no succeeded jobs yet\n";
    return kExitOk;
  }
  out << "final test accuracy by family (campaign mean " << Percent(mean)
      << "); low yield = the whole 95% CI is below the campaign mean\n\n";
  table.PrintAligned(out);
  if (low > 0) {
    out << "\n" << env.style.Yellow(absl::StrCat(low, low == 1 ? " low-yield family" : " low-yield families")) << "\n";
  }
  return kExitOk;
}

}  // namespace moe4::ctl
