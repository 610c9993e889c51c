// moe4ctl coverage ID: how evenly the campaign's candidates cover the family
// pool: each family's share against the ideal K/N, and a warning for anchors
// (families in more than 2K/N of the candidates, as AirNet was in all of the
// published campaign's), which confound every comparison between the others.
// Beside the planned candidates, the evaluated ones: a combination that fails
// for good gives no result, so the families that fail more lose their share
// unless the campaign refills; failures are listed by family and reason, and
// evaluated shares outside the stratified bounds are flagged.
#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"

namespace moe4::ctl {

int Coverage(int64_t campaign_id, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::CoverageRequest request;
  request.set_campaign_id(campaign_id);
  moe4::v1::CoverageResponse response;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::Coverage, request, &response,
                           absl::StrCat("coverage ", campaign_id)))) {
    return code;
  }
  if (env.format == OutputFormat::kJson) {
    *env.out << ToJson(response);
    return kExitOk;
  }
  std::vector<moe4::v1::FamilyCoverage> families(response.families().begin(), response.families().end());
  std::stable_sort(families.begin(), families.end(),
                   [](const auto& a, const auto& b) { return a.count() > b.count(); });
  double max_share = 0;
  for (const auto& f : families) max_share = std::max(max_share, f.share());
  const bool csv = env.format == OutputFormat::kCsv;
  Table table(csv ? std::vector<std::string>{"FAMILY", "COUNT", "SHARE", "IDEAL", "SHARE / IDEAL", "ANCHOR",
                                             "EVALUATED", "EVALUATED SHARE", "FAILED", "WITHIN BOUNDS"}
                  : std::vector<std::string>{"FAMILY", "COUNT", "SHARE", "IDEAL", "SHARE / IDEAL", "", "", "EVALUATED",
                                             "FAILED"});
  std::vector<std::string> drifted, failing;
  std::vector<std::string> anchors;
  for (const auto& f : families) {
    const double ratio = f.ideal_share() > 0 ? f.share() / f.ideal_share() : NAN;
    if (f.anchor()) anchors.push_back(f.family());
    if (f.failed() > 0) {
      std::vector<std::string> reasons;
      for (const auto& [reason, count] : f.failures()) reasons.push_back(absl::StrCat(count, " x ", reason));
      std::sort(reasons.begin(), reasons.end());
      failing.push_back(absl::StrCat(f.family(), " ", f.failed(), " (", absl::StrJoin(reasons, "; "), ")"));
    }
    const bool failed_out = f.failed() > 0 && f.evaluated() == 0;
    if (response.evaluated_candidates() > 0 && !failed_out && !f.within_bounds()) {
      drifted.push_back(absl::StrCat(f.family(), " ", f.evaluated()));
    }
    if (csv) {
      table.AddRow({f.family(), std::to_string(f.count()), env.Pct(f.share()), env.Pct(f.ideal_share()),
                    ExactNumber(ratio), f.anchor() ? "yes" : "no", std::to_string(f.evaluated()),
                    env.Pct(f.evaluated_share()), std::to_string(f.failed()), f.within_bounds() ? "yes" : "no"});
    } else {
      table.AddRow({f.family(), std::to_string(f.count()), Percent(f.share()), Percent(f.ideal_share()),
                    Fixed(ratio, 2), Bar(max_share > 0 ? f.share() / max_share : 0, 20),
                    f.anchor() ? env.style.Red("ANCHOR") : "", std::to_string(f.evaluated()),
                    f.failed() > 0 ? env.style.Yellow(std::to_string(f.failed())) : "0"});
    }
  }
  if (csv) {
    table.PrintCsv(*env.out);
    return kExitOk;
  }
  std::ostream& out = *env.out;
  const int n = response.families_size();
  const int k = n > 0 ? static_cast<int>(std::lround(response.families(0).ideal_share() * n)) : 0;
  out << response.candidates() << " candidates, K=" << k << " of N=" << n << " families: ideal share K/N = "
      << Percent(n > 0 ? response.families(0).ideal_share() : 0) << "; max/min count ratio "
      << Fixed(response.max_min_ratio(), 2) << "; pairs covered " << response.pairs_covered() << "/"
      << response.pairs_total() << "\n\n";
  table.PrintAligned(out);
  if (!anchors.empty()) {
    out << "\n"
        << env.style.Red(absl::StrCat("warning: ", anchors.size() == 1 ? "anchor family " : "anchor families ",
                                      absl::StrJoin(anchors, ", "), ": in more than 2K/N = ",
                                      Percent(n > 0 ? 2 * response.families(0).ideal_share() : 0),
                                      " of the candidates; comparisons between the other families are "
                                      "confounded with it"))
        << "\n";
  } else {
    out << "\nno anchor: no family is in more than 2K/N of the candidates\n";
  }
  // Attrition: what was evaluated, what failed for good and why.
  out << "\nevaluated: " << response.evaluated_candidates() << " of " << response.candidates()
      << " candidates succeeded, " << response.failed_candidates() << " failed for good; refill "
      << (response.refill() ? absl::StrCat("on (", response.refills(), " replacement",
                                           response.refills() == 1 ? "" : "s", " drawn)")
                            : std::string("off"))
      << "\n";
  if (!failing.empty()) out << "failures by family: " << absl::StrJoin(failing, ", ") << "\n";
  if (!drifted.empty()) {
    const std::string text = absl::StrCat(
        "evaluated shares outside the stratified bounds: ", absl::StrJoin(drifted, ", "),
        response.refill() ? " (refill could not keep them even: the pool or the refill budget ran out)"
                          : "; family statistics over-represent the families that fail less (refill is off)");
    out << (response.refill() ? text : env.style.Yellow("warning: " + text)) << "\n";
  }
  return kExitOk;
}

}  // namespace moe4::ctl
