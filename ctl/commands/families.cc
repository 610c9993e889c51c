// moe4ctl families ID: per-family marginal statistics over the combinations
// containing the family (each combination counts once, its replicates
// averaged): mean validation accuracy, which ranks the families, and the
// test accuracy at the selected epoch (mean, std, 95 % CI, best) with the
// final one beside it; low-yield families flagged.
//
// Low yield: the family's whole 95 % confidence interval lies below the
// campaign mean, i.e. ensembles containing it are worse than the typical
// ensemble by more than chance explains. Families with n < 2 have no interval
// and are never flagged.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"
#include "nlohmann/json.hpp"

namespace moe4::ctl {
namespace {

// Every combination adds its accuracy to exactly K families, so the
// n-weighted mean of the family means is the mean over combinations: no
// second call.
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

int Families(int64_t campaign_id, int rung, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::FamilyStatsRequest request;
  request.set_campaign_id(campaign_id);
  if (rung >= 0) request.set_rung(rung);
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
  Table table(csv ? std::vector<std::string>{"FAMILY", "N", "RUNS", "VALID", "MEAN", "STD", "CI95 LOW", "CI95 HIGH",
                                             "BEST", "FINAL", "LOW YIELD"}
                  : std::vector<std::string>{"FAMILY", "N", "RUNS", "VALID", "MEAN", "STD", "95% CI", "BEST", "FINAL", ""});
  int low = 0;
  for (const auto& f : response.families()) {
    const bool low_yield = LowYield(f, mean);
    low += low_yield;
    if (csv) {
      table.AddRow({f.family(), std::to_string(f.n()), std::to_string(f.runs()), env.Pct(f.validation_mean()),
                    env.Pct(f.mean()), env.Pct(f.std()), env.Pct(f.ci95_low()), env.Pct(f.ci95_high()),
                    env.Pct(f.best()), env.Pct(f.final_mean()), low_yield ? "yes" : "no"});
      continue;
    }
    table.AddRow({f.family(), std::to_string(f.n()), std::to_string(f.runs()), Percent(f.validation_mean()),
                  Percent(f.mean()), Percent(f.std()),
                  std::isfinite(f.ci95_low())
                      // An accuracy lies in [0, 1]; the Student-t interval of a
                      // small n does not know that. The view and the JSON/CSV
                      // keep the raw bounds.
                      ? absl::StrCat(Percent(std::max(0.0, f.ci95_low())), " .. ",
                                     Percent(std::min(1.0, f.ci95_high())))
                      : "-",
                  Percent(f.best()), Percent(f.final_mean()),
                  low_yield ? env.style.Yellow("LOW YIELD: CI below campaign mean") : ""});
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
  if (response.rung() > 0 || rung >= 0) {
    out << "rung " << response.rung() << " (" << response.rung_epochs()
        << (response.rung_epochs() == 1 ? " epoch" : " epochs") << "): every candidate that finished it"
        << (response.rung() == 0 ? " (rung 0: every sampled combination, the unbiased sample)" : "") << "\n";
  }
  out << "test accuracy at the selected epoch by family (campaign mean " << Percent(mean)
      << "), best mean validation accuracy first; N = combinations (replicates averaged), RUNS = jobs;\n"
      << "low yield = the whole 95% CI is below the campaign mean\n\n";
  table.PrintAligned(out);
  if (low > 0) {
    out << "\n" << env.style.Yellow(absl::StrCat(low, low == 1 ? " low-yield family" : " low-yield families")) << "\n";
  }
  return kExitOk;
}

}  // namespace moe4::ctl

namespace moe4::ctl {
namespace {

// "52.8% .. 73.8%" clamped to [0, 1] for display, "-" without an interval.
std::string Interval(const moe4::v1::FamilyStat& f) {
  if (!std::isfinite(f.ci95_low())) return "-";
  return absl::StrCat(Percent(std::max(0.0, f.ci95_low())), " .. ", Percent(std::min(1.0, f.ci95_high())));
}

// Which campaign's interval lies wholly above the other's ("" when they
// overlap or one has none): only then do the two campaigns tell the
// family's accuracy apart.
std::string Separated(const moe4::v1::FamilyStat& a, const moe4::v1::FamilyStat& b) {
  if (!std::isfinite(a.ci95_low()) || !std::isfinite(b.ci95_low())) return "";
  if (a.ci95_low() > b.ci95_high()) return "A higher";
  if (b.ci95_low() > a.ci95_high()) return "B higher";
  return "";
}

}  // namespace

int Compare(int64_t campaign_a, int64_t campaign_b, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::FamilyStatsResponse stats[2];
  moe4::v1::GetResponse summary[2];
  const int64_t ids[2] = {campaign_a, campaign_b};
  for (int i = 0; i < 2; ++i) {
    moe4::v1::GetRequest get;
    get.set_campaign_id(ids[i]);
    if ((code = client->Call(&moe4::v1::CampaignService::Stub::Get, get, &summary[i],
                             absl::StrCat("compare: campaign ", ids[i])))) {
      return code;
    }
    moe4::v1::FamilyStatsRequest request;
    request.set_campaign_id(ids[i]);
    if ((code = client->Call(&moe4::v1::CampaignService::Stub::FamilyStats, request, &stats[i],
                             absl::StrCat("compare: families of campaign ", ids[i])))) {
      return code;
    }
  }
  // Rank = place in FamilyStats order (best mean validation accuracy first).
  std::map<std::string, std::pair<int, moe4::v1::FamilyStat>> by_family[2];
  std::vector<std::string> order;
  for (int i = 0; i < 2; ++i) {
    for (int r = 0; r < stats[i].families_size(); ++r) {
      const auto& f = stats[i].families(r);
      by_family[i][f.family()] = {r + 1, f};
      if (std::find(order.begin(), order.end(), f.family()) == order.end()) order.push_back(f.family());
    }
  }
  // Spearman's rank correlation over the families both campaigns ranked
  // (ranks re-numbered within the common set).
  std::vector<std::string> common;
  for (const auto& family : order) {
    if (by_family[0].count(family) && by_family[1].count(family)) common.push_back(family);
  }
  double rho = NAN;
  if (common.size() >= 2) {
    std::vector<std::string> rank_b = common;
    std::sort(rank_b.begin(), rank_b.end(), [&](const auto& x, const auto& y) {
      return by_family[1].at(x).first < by_family[1].at(y).first;
    });
    std::vector<std::string> rank_a = common;
    std::sort(rank_a.begin(), rank_a.end(), [&](const auto& x, const auto& y) {
      return by_family[0].at(x).first < by_family[0].at(y).first;
    });
    double d2 = 0;
    for (size_t i = 0; i < rank_a.size(); ++i) {
      const auto pos = std::find(rank_b.begin(), rank_b.end(), rank_a[i]) - rank_b.begin();
      d2 += std::pow(static_cast<double>(i) - static_cast<double>(pos), 2);
    }
    const double n = static_cast<double>(common.size());
    rho = 1 - 6 * d2 / (n * (n * n - 1));
  }

  const bool csv = env.format == OutputFormat::kCsv;
  if (env.format == OutputFormat::kJson) {
    nlohmann::json json;
    for (int i = 0; i < 2; ++i) {
      json[i == 0 ? "a" : "b"] = {{"campaign", nlohmann::json::parse(ToJson(summary[i].campaign()))},
                                  {"families", nlohmann::json::parse(ToJson(stats[i])).value("families",
                                                                                             nlohmann::json::array())}};
    }
    json["rows"] = nlohmann::json::array();
    for (const auto& family : order) {
      nlohmann::json row{{"family", family}};
      for (int i = 0; i < 2; ++i) {
        const auto it = by_family[i].find(family);
        row[i == 0 ? "rank_a" : "rank_b"] = it == by_family[i].end() ? nlohmann::json() : nlohmann::json(it->second.first);
      }
      if (by_family[0].count(family) && by_family[1].count(family)) {
        row["difference"] = by_family[1].at(family).second.mean() - by_family[0].at(family).second.mean();
        row["separated"] = Separated(by_family[0].at(family).second, by_family[1].at(family).second);
      }
      json["rows"].push_back(row);
    }
    json["spearman_rho"] = std::isfinite(rho) ? nlohmann::json(rho) : nlohmann::json();
    *env.out << json.dump(2) << "\n";
    return kExitOk;
  }
  Table table(csv ? std::vector<std::string>{"FAMILY", "RANK A", "N A", "MEAN A", "CI95 LOW A", "CI95 HIGH A", "RANK B",
                                             "N B", "MEAN B", "CI95 LOW B", "CI95 HIGH B", "B - A", "SEPARATED"}
                  : std::vector<std::string>{"FAMILY", "RANK A", "N A", "MEAN A", "95% CI A", "RANK B", "N B",
                                             "MEAN B", "95% CI B", "B - A", ""});
  for (const auto& family : order) {
    std::vector<std::string> row = {family};
    const moe4::v1::FamilyStat* f[2] = {nullptr, nullptr};
    for (int i = 0; i < 2; ++i) {
      const auto it = by_family[i].find(family);
      if (it == by_family[i].end()) {
        row.insert(row.end(), csv ? 5 : 4, csv ? "" : "-");
        continue;
      }
      f[i] = &it->second.second;
      row.push_back(std::to_string(it->second.first));
      row.push_back(std::to_string(f[i]->n()));
      row.push_back(env.Pct(f[i]->mean()));
      if (csv) {
        row.push_back(env.Pct(f[i]->ci95_low()));
        row.push_back(env.Pct(f[i]->ci95_high()));
      } else {
        row.push_back(Interval(*f[i]));
      }
    }
    const bool both = f[0] != nullptr && f[1] != nullptr;
    const double diff = both ? f[1]->mean() - f[0]->mean() : NAN;
    row.push_back(csv ? (both ? ExactNumber(diff) : "")
                      : (both ? absl::StrCat(diff >= 0 ? "+" : "", Fixed(100 * diff, 1)) : "-"));
    row.push_back(both ? Separated(*f[0], *f[1]) : "");
    table.AddRow(std::move(row));
  }
  if (csv) {
    table.PrintCsv(*env.out);
    return kExitOk;
  }
  std::ostream& out = *env.out;
  for (int i = 0; i < 2; ++i) {
    const auto& c = summary[i].campaign();
    out << (i == 0 ? "A" : "B") << ": campaign " << c.campaign_id() << " \"" << c.name() << "\", " << c.sampler()
        << " sampler, K=" << c.k() << ", " << c.succeeded() << " succeeded jobs\n";
  }
  out << "families by mean validation accuracy in each (rank), test accuracy at the selected epoch (mean, 95% CI over "
         "combinations); B - A in points; separated = the intervals do not overlap\n\n";
  table.PrintAligned(out);
  out << "\n" << common.size() << " families in both";
  if (std::isfinite(rho)) out << "; Spearman rank correlation of the two rankings " << Fixed(rho, 2);
  out << "\n";
  return kExitOk;
}

}  // namespace moe4::ctl
