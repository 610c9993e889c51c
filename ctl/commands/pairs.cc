// moe4ctl pairs ID: family pairs that co-occur among the best ensembles more
// often than chance. lift = n_top / expected, where expected is what the pair
// would get if the top were drawn at random from the finished ensembles.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"

namespace moe4::ctl {

int Pairs(const PairsOptions& options, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::PairStatsRequest request;
  request.set_campaign_id(options.campaign_id);
  request.set_top_fraction(options.top_fraction);
  if (options.rung >= 0) request.set_rung(options.rung);
  moe4::v1::PairStatsResponse response;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::PairStats, request, &response,
                           absl::StrCat("pairs ", options.campaign_id)))) {
    return code;
  }
  moe4::v1::PairStatsResponse shown;
  for (const auto& p : response.pairs()) {
    if (options.all || p.lift() > 1) *shown.add_pairs() = p;
  }
  if (env.format == OutputFormat::kJson) {
    *env.out << ToJson(shown);
    return kExitOk;
  }
  const bool table_format = env.format == OutputFormat::kTable;
  Table table({"PAIR", "N", "IN TOP", "EXPECTED", "LIFT", "VALID", "MEAN", "FINAL"});
  for (const auto& p : shown.pairs()) {
    const std::string lift = table_format ? Fixed(p.lift(), 2) : ExactNumber(p.lift());
    table.AddRow({absl::StrCat(p.family_a(), " + ", p.family_b()), std::to_string(p.n()), std::to_string(p.n_top()),
                  table_format ? Fixed(p.expected_top(), 2) : ExactNumber(p.expected_top()),
                  p.lift() > 1 ? env.style.Green(lift) : lift, env.Pct(p.validation_mean()), env.Pct(p.mean()),
                  env.Pct(p.final_mean())});
  }
  if (!table_format) {
    table.PrintCsv(*env.out);
    return kExitOk;
  }
  std::ostream& out = *env.out;
  const std::string top = Percent(options.top_fraction);
  if (response.pairs_size() == 0) {
    out << "campaign " << options.campaign_id << " has no succeeded jobs yet\n";
    return kExitOk;
  }
  if (options.rung >= 0) out << "rung " << response.rung() << ": the candidates that finished it\n";
  out << (options.all ? "every pair" : "pairs over-represented")
      << " among the best " << top << " of the finished combinations by validation accuracy\n"
      << "(N = combinations with the pair, replicates averaged; IN TOP = of those in the top, EXPECTED = what chance "
         "gives, LIFT = IN TOP / EXPECTED;\n VALID = mean validation accuracy, MEAN = mean test accuracy at the "
         "selected epoch, FINAL = at the last epoch)\n\n";
  if (shown.pairs_size() == 0) {
    out << "no pair appears in the top " << top << " more often than chance\n";
    return kExitOk;
  }
  table.PrintAligned(out);
  return kExitOk;
}

}  // namespace moe4::ctl
