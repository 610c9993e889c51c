// moe4ctl leaderboard ID [--top N] [--by final|best]: the best ensembles.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"

namespace moe4::ctl {

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
  const bool by_best = options.by == "best";
  Table table({"#", "JOB", "FAMILIES", "FINAL", "BEST", "EPOCHS", "TIME", "STATE"});
  int place = 0;
  for (const auto& e : response.entries()) {
    std::string final_acc = env.Pct(e.final_test_accuracy()), best_acc = env.Pct(e.best_test_accuracy());
    (by_best ? best_acc : final_acc) = env.style.Bold(by_best ? best_acc : final_acc);  // the ranking column
    table.AddRow({std::to_string(++place), std::to_string(e.job_id()), absl::StrJoin(e.families(), " + "), final_acc,
                  best_acc, std::to_string(e.epochs_done()), env.Secs(e.train_seconds()),
                  env.style.State(JobStateName(e.state()))});
  }
  table.Print(env.format, *env.out);
  return kExitOk;
}

}  // namespace moe4::ctl
