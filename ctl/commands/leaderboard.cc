// moe4ctl leaderboard ID [--top N] [--by validation|final]: the best
// combinations, one row each (its replicates averaged), ranked by validation
// accuracy at the selected epoch and showing the test accuracy there and at
// the last epoch. The best epoch's test accuracy is in the JSON only: it is
// an optimistic, test-selected number and never ranks anything.
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"

namespace moe4::ctl {
namespace {

// "71.3%" for one run, "71.3% ± 0.4" (standard deviation in points) for more.
std::string MeanSd(double mean, double sd, int n) {
  if (n < 2 || !std::isfinite(sd)) return Percent(mean);
  return absl::StrCat(Percent(mean), " ± ", Fixed(100 * sd, 1));
}

}  // namespace

int Leaderboard(const LeaderboardOptions& options, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::LeaderboardRequest request;
  request.set_campaign_id(options.campaign_id);
  request.set_top(options.top);
  request.set_by(options.by);
  moe4::v1::LeaderboardResponse response;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::Leaderboard, request, &response,
                           absl::StrCat("leaderboard ", options.campaign_id)))) {
    return code;
  }
  if (env.format == OutputFormat::kJson) {
    *env.out << ToJson(response);
    return kExitOk;
  }
  const bool by_final = options.by == "final";
  if (env.format == OutputFormat::kCsv) {
    Table table({"#", "JOB", "FAMILIES", "N", "VALIDATION", "VALIDATION SD", "TEST", "TEST SD", "FINAL", "FINAL SD",
                 "EPOCH", "EPOCHS", "TIME", "STATE", "RUNG"});
    int place = 0;
    for (const auto& e : response.entries()) {
      table.AddRow({std::to_string(++place), std::to_string(e.job_id()), absl::StrJoin(e.families(), " + "),
                    std::to_string(e.n()), env.Pct(e.validation_accuracy()), env.Pct(e.validation_accuracy_sd()),
                    env.Pct(e.selected_test_accuracy()), env.Pct(e.selected_test_accuracy_sd()),
                    env.Pct(e.final_test_accuracy()), env.Pct(e.final_test_accuracy_sd()),
                    std::to_string(e.selected_epoch()), std::to_string(e.epochs_done()), env.Secs(e.train_seconds()),
                    std::string(JobStateName(e.state())), std::to_string(e.rung())});
    }
    table.PrintCsv(*env.out);
    return kExitOk;
  }
  // VALID: validation accuracy at the selected epoch; TEST: test accuracy
  // there (the number to report); FINAL: test accuracy at the last epoch;
  // EPOCH: the selected epoch (one run; "-" when replicates differ).
  // asha: RUNG (the highest reached, which ranks first) and its epochs.
  bool rungs = false;
  for (const auto& e : response.entries()) rungs = rungs || e.rung() > 0;
  std::vector<std::string> header = {"#", "JOB", "FAMILIES", "N", "VALID", "TEST", "FINAL", "EPOCH", "TIME", "STATE"};
  const std::vector<std::string> rung_header = {"RUNG", "EPOCHS"};
  if (rungs) header.insert(header.begin() + 3, rung_header.begin(), rung_header.end());
  Table table(header);
  int place = 0;
  for (const auto& e : response.entries()) {
    std::string valid = MeanSd(e.validation_accuracy(), e.validation_accuracy_sd(), e.n());
    std::string final_acc = MeanSd(e.final_test_accuracy(), e.final_test_accuracy_sd(), e.n());
    (by_final ? final_acc : valid) = env.style.Bold(by_final ? final_acc : valid);  // the ranking column
    std::vector<std::string> row = {
        std::to_string(++place), std::to_string(e.job_id()), absl::StrJoin(e.families(), " + "),
        std::to_string(e.n()), valid, MeanSd(e.selected_test_accuracy(), e.selected_test_accuracy_sd(), e.n()),
        final_acc, e.selected_epoch() > 0 ? std::to_string(e.selected_epoch()) : "-",
        env.Secs(e.train_seconds()), env.style.State(JobStateName(e.state()))};
    const std::vector<std::string> rung_cells = {std::to_string(e.rung()), std::to_string(e.rung_epochs())};
    if (rungs) row.insert(row.begin() + 3, rung_cells.begin(), rung_cells.end());
    table.AddRow(row);
  }
  table.PrintAligned(*env.out);
  return kExitOk;
}

}  // namespace moe4::ctl
