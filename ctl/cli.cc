#include "ctl/cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "ctl/commands.h"

namespace moe4::ctl {
namespace {

constexpr const char* kMainFooter =
    "Examples:\n"
    "  moe4ctl submit deploy/examples/quickstart.yaml --dry-run\n"
    "  moe4ctl submit campaign.yaml\n"
    "  moe4ctl watch 1\n"
    "  moe4ctl leaderboard 1 --top 10 --output csv\n"
    "  moe4ctl families 1\n"
    "  moe4ctl report 1 --html campaign1.html\n"
    "\n"
    "Run `moe4ctl COMMAND --help` for a command's options and examples; docs/cli.md has them all.\n"
    "The coordinator address and token come from --coordinator/--token-file, else\n"
    "MOE4_COORDINATOR/MOE4_TOKEN, else ~/.config/moe4/config.yaml (keys: coordinator,\n"
    "token_file, tls_ca). Global options may also follow the command.\n"
    "Output: --output table (default; colours on a terminal unless NO_COLOR is set), json or csv.\n"
    "Exit codes: 0 ok, 1 refused by the coordinator, 2 bad usage or invalid spec,\n"
    "3 coordinator unreachable, 4 authentication failure; watch: 130 on Ctrl-C.";

std::string Examples(std::initializer_list<const char*> lines) {
  std::string footer = "Examples:";
  for (const char* line : lines) footer += std::string("\n  ") + line;
  return footer +
         "\n\nGlobal options (--coordinator, --token-file, --tls-ca, --config, -o/--output) go before or after "
         "the command; see moe4ctl --help.";
}

CLI::App* Command(CLI::App& app, const char* name, const char* description,
                  std::initializer_list<const char*> examples) {
  CLI::App* command = app.add_subcommand(name, description);
  command->footer(Examples(examples));
  return command;
}

void CampaignId(CLI::App* command, int64_t& id) {
  command->add_option("id", id, "Campaign id")->required()->check(CLI::PositiveNumber);
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"moe4ctl: submit and follow MoE architecture-search campaigns", "moe4ctl"};
  app.require_subcommand(1);
  // Global options are accepted after the subcommand too (kubectl style).
  app.fallthrough();

  CommandEnv env;
  std::string output = "table";
  app.add_option("--coordinator", env.connection.coordinator, "Coordinator address host:port (default 127.0.0.1:50051)");
  app.add_option("--token-file", env.connection.token_file, "File holding the admin token");
  app.add_option("--tls-ca", env.connection.tls_ca, "CA certificate (PEM) to verify a TLS coordinator");
  app.add_option("--config", env.connection.config_file, "Config file (default ~/.config/moe4/config.yaml)");
  app.add_option("-o,--output", output, "Output format: table, json or csv")->check(CLI::IsMember({"table", "json", "csv"}));

  // Each entry: the subcommand and what runs when it was given.
  std::vector<std::pair<CLI::App*, std::function<int()>>> commands;

  SubmitOptions submit;
  auto* cmd = Command(app, "submit", "Validate a YAML campaign spec and submit it",
                      {"moe4ctl submit campaign.yaml --dry-run   # sampled combinations + coverage; creates nothing",
                       "moe4ctl submit campaign.yaml"});
  cmd->add_option("file", submit.file, "Campaign spec (YAML; docs/spec.md)")->required();
  cmd->add_flag("--dry-run", submit.dry_run, "Validate and print the sampled combinations; contact nothing");
  commands.emplace_back(cmd, [&] { return Submit(submit, env); });

  cmd = Command(app, "list", "List campaigns, newest first", {"moe4ctl list", "moe4ctl list -o json"});
  commands.emplace_back(cmd, [&] { return List(env); });

  int64_t campaign_id = 0;
  int families_rung = -1;  // moe4ctl families --rung
  cmd = Command(app, "status", "Job counts, progress bar, ETA, busy workers and why jobs wait",
                {"moe4ctl status 1", "moe4ctl status 1 -o json"});
  CampaignId(cmd, campaign_id);
  commands.emplace_back(cmd, [&] { return Status(campaign_id, env); });

  cmd = Command(app, "watch", "Follow a campaign live until it is done (exit 0), cancelled (1) or Ctrl-C (130)",
                {"moe4ctl watch 1", "moe4ctl watch 1 -o json > progress.ndjson   # one snapshot per line"});
  CampaignId(cmd, campaign_id);
  commands.emplace_back(cmd, [&] { return Watch(campaign_id, env); });

  cmd = Command(app, "cancel", "Cancel a campaign: unfinished jobs are cancelled, running ones stopped",
                {"moe4ctl cancel 1"});
  CampaignId(cmd, campaign_id);
  commands.emplace_back(cmd, [&] { return Cancel(campaign_id, env); });

  cmd = Command(app, "pause", "Pause a campaign: no new leases; running jobs return to pending",
                {"moe4ctl pause 1", "moe4ctl resume 1"});
  CampaignId(cmd, campaign_id);
  commands.emplace_back(cmd, [&] { return Pause(campaign_id, env); });

  cmd = Command(app, "resume", "Resume a paused campaign", {"moe4ctl resume 1"});
  CampaignId(cmd, campaign_id);
  commands.emplace_back(cmd, [&] { return Resume(campaign_id, env); });

  cmd = Command(app, "workers", "Workers: name, device, current job, last heartbeat",
                {"moe4ctl workers", "moe4ctl workers -o csv"});
  commands.emplace_back(cmd, [&] { return Workers(env); });

  JobsOptions jobs;
  cmd = Command(app, "jobs", "The jobs of a campaign with state, attempts, epochs and accuracy",
                {"moe4ctl jobs 1", "moe4ctl jobs 1 --state failed", "moe4ctl jobs 1 --state running -o json"});
  CampaignId(cmd, jobs.campaign_id);
  cmd->add_option("--state", jobs.state, "Only jobs in this state")
      ->check(CLI::IsMember({"pending", "leased", "running", "succeeded", "failed", "cancelled"}));
  cmd->add_option("--limit", jobs.limit, "At most this many jobs (default: all)")->check(CLI::Range(1, 1000000));
  commands.emplace_back(cmd, [&] { return Jobs(jobs, env); });

  int64_t job_id = 0;
  cmd = Command(app, "job", "One job: its per-epoch curve as a table and a sparkline, and its experts",
                {"moe4ctl job 17", "moe4ctl job 17 -o csv > job17.csv"});
  cmd->add_option("job_id", job_id, "Job id")->required()->check(CLI::PositiveNumber);
  commands.emplace_back(cmd, [&] { return Job(job_id, env); });

  LeaderboardOptions leaderboard;
  cmd = Command(app, "leaderboard", "Best ensembles of a campaign",
                {"moe4ctl leaderboard 1", "moe4ctl leaderboard 1 --top 5 --by final", "moe4ctl leaderboard 1 -o csv"});
  CampaignId(cmd, leaderboard.campaign_id);
  cmd->add_option("--top", leaderboard.top, "How many entries (default 20)")->check(CLI::Range(1, 10000));
  cmd->add_option("--by", leaderboard.by,
                  "Rank by validation accuracy at the selected epoch (default) or final test accuracy")
      ->check(CLI::IsMember({"validation", "final"}));
  commands.emplace_back(cmd, [&] { return Leaderboard(leaderboard, env); });

  cmd = Command(app, "families",
                "Per-family n (combinations), validation accuracy, and mean, std, 95% CI, best of the test accuracy "
                "at the selected epoch, best validation first; low-yield families flagged",
                {"moe4ctl families 1", "moe4ctl families 1 -o json | jq '.families[] | select(.low_yield)'"});
  CampaignId(cmd, campaign_id);
  cmd->add_option("--rung", families_rung,
                  "asha campaigns: the rung whose results to use (default 0: every sampled combination, unbiased)")
      ->check(CLI::Range(0, 1000));
  commands.emplace_back(cmd, [&] { return Families(campaign_id, families_rung, env); });

  int64_t compare_a = 0, compare_b = 0;
  cmd = Command(app, "compare",
                "Two campaigns' family rankings side by side, with 95% CIs and whether they tell the families apart",
                {"moe4ctl compare 1 2", "moe4ctl compare 1 2 -o csv"});
  cmd->add_option("campaign_a", compare_a, "First campaign id")->required()->check(CLI::PositiveNumber);
  cmd->add_option("campaign_b", compare_b, "Second campaign id")->required()->check(CLI::PositiveNumber);
  commands.emplace_back(cmd, [&] { return Compare(compare_a, compare_b, env); });

  PairsOptions pairs;
  cmd = Command(app, "pairs", "Family pairs found among the best ensembles more often than chance (lift > 1)",
                {"moe4ctl pairs 1", "moe4ctl pairs 1 --top-fraction 0.25   # the top quartile, as v_pair_stats",
                 "moe4ctl pairs 1 --all -o csv"});
  CampaignId(cmd, pairs.campaign_id);
  cmd->add_option("--top-fraction", pairs.top_fraction, "What counts as the best ensembles (default 0.1: the top 10%)")
      ->check(CLI::Range(0.001, 1.0));
  cmd->add_flag("--all", pairs.all, "Every pair, not only those with lift > 1");
  cmd->add_option("--rung", pairs.rung,
                  "asha campaigns: the rung whose candidates to use (default 0: every sampled combination)")
      ->check(CLI::Range(0, 1000));
  commands.emplace_back(cmd, [&] { return Pairs(pairs, env); });

  cmd = Command(app, "coverage", "Per-family share of the candidates against the ideal K/N; anchor warning",
                {"moe4ctl coverage 1", "moe4ctl coverage 1 -o json"});
  CampaignId(cmd, campaign_id);
  commands.emplace_back(cmd, [&] { return Coverage(campaign_id, env); });

  EcologyOptions ecology;
  cmd = Command(app, "ecology",
                "Dead experts against E = T*H/(O+B): does E >= 0.5 keep every expert alive?",
                {"moe4ctl ecology 1", "moe4ctl ecology 1 --points   # one row per ensemble",
                 "moe4ctl ecology 1 --threshold 1.0",
                 "moe4ctl ecology 1 --per-class 7   # job 7: accuracy per expert and class"});
  CampaignId(cmd, ecology.campaign_id);
  cmd->add_option("--threshold", ecology.threshold, "The E of the claim under test (default 0.5)")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_flag("--points", ecology.points, "List every finished ensemble (job, E, dead experts) instead of buckets");
  cmd->add_option("--per-class", ecology.per_class_job,
                  "Job JOB of the campaign: each expert's accuracy per class and the specialisation I(class; expert) "
                  "at its selected epoch")
      ->option_text("JOB")
      ->check(CLI::PositiveNumber)
      ->excludes("--points");
  commands.emplace_back(cmd, [&] { return Ecology(ecology, env); });

  ExportOptions export_options;
  std::string export_format;
  cmd = Command(app, "export", "Every job of a campaign with its epochs, as CSV (one row per job and epoch) or JSON",
                {"moe4ctl export 1 --format csv --out campaign1.csv", "moe4ctl export 1 --format json | jq '.jobs | length'"});
  CampaignId(cmd, export_options.campaign_id);
  cmd->add_option("--format", export_format, "csv (default, or -o json) or json")->check(CLI::IsMember({"csv", "json"}));
  cmd->add_option("--out", export_options.out, "Write to this file instead of stdout");
  commands.emplace_back(cmd, [&] {
    // --format wins; else a JSON --output means JSON; else CSV.
    export_options.format = !export_format.empty() ? export_format : output == "json" ? "json" : "csv";
    return Export(export_options, env);
  });

  ReportOptions report;
  cmd = Command(app, "report",
                "One self-contained HTML page: leaderboard, accuracy curves, family heatmap, coverage chart",
                {"moe4ctl report 1 --html campaign1.html", "moe4ctl report 1 --html top5.html --curves 5"});
  CampaignId(cmd, report.campaign_id);
  cmd->add_option("--html", report.html, "The page to write")->required();
  cmd->add_option("--curves", report.curves, "Accuracy curves of this many top candidates (default 10)")
      ->check(CLI::Range(0, 100));
  cmd->add_option("--top", report.leaderboard, "Leaderboard rows (default 20)")->check(CLI::Range(1, 1000));
  commands.emplace_back(cmd, [&] { return Report(report, env); });

  // Set last: a subcommand copies its parent's footer when it is created.
  app.footer(kMainFooter);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  auto format = ParseOutputFormat(output);
  if (!format.ok()) {
    std::cerr << "moe4ctl: " << format.status().message() << "\n";
    return kExitUsage;
  }
  env.format = *format;
  env.terminal = isatty(STDOUT_FILENO) == 1;
  // Colours only decorate tables; JSON and CSV stay plain for programs.
  env.style = env.format == OutputFormat::kTable ? Style::ForTerminal(STDOUT_FILENO) : Style(false);
  for (auto& [command, run] : commands) {
    if (command->parsed()) return run();
  }
  return kExitUsage;
}

}  // namespace moe4::ctl
