// moe4ctl: submit and follow moe4 campaigns from the terminal.
#include <CLI/CLI.hpp>

#include <iostream>

#include "ctl/commands.h"

int main(int argc, char** argv) {
  using namespace moe4::ctl;
  CLI::App app{"moe4ctl: submit and follow MoE architecture-search campaigns",
               "moe4ctl"};
  app.footer(
      "Examples:\n"
      "  moe4ctl submit deploy/examples/quickstart.yaml --dry-run\n"
      "  moe4ctl submit campaign.yaml\n"
      "  moe4ctl status 1\n"
      "  moe4ctl leaderboard 1 --top 10 --output csv\n"
      "\nThe coordinator address and token come from --coordinator/--token-file, else\n"
      "MOE4_COORDINATOR/MOE4_TOKEN, else ~/.config/moe4/config.yaml (keys: coordinator,\n"
      "token_file, tls_ca).\n"
      "Exit codes: 0 ok, 1 refused by the coordinator, 2 bad usage or invalid spec,\n"
      "3 coordinator unreachable, 4 authentication failure.");
  app.require_subcommand(1);

  ConnectionOptions connection;
  std::string output = "table";
  app.add_option("--coordinator", connection.coordinator, "Coordinator address host:port (default 127.0.0.1:50051)");
  app.add_option("--token-file", connection.token_file, "File holding the admin token");
  app.add_option("--tls-ca", connection.tls_ca, "CA certificate (PEM) to verify a TLS coordinator");
  app.add_option("--config", connection.config_file, "Config file (default ~/.config/moe4/config.yaml)");
  app.add_option("-o,--output", output, "Output format: table, json or csv")->check(CLI::IsMember({"table", "json", "csv"}));

  SubmitOptions submit;
  auto* submit_cmd = app.add_subcommand("submit", "Validate a YAML campaign spec and submit it");
  submit_cmd->add_option("file", submit.file, "Campaign spec (YAML)")->required();
  submit_cmd->add_flag("--dry-run", submit.dry_run, "Validate and print the sampled combinations; create nothing");

  auto* list_cmd = app.add_subcommand("list", "List campaigns");

  int64_t status_id = 0;
  auto* status_cmd = app.add_subcommand("status", "Job counts, progress, ETA and why jobs wait");
  status_cmd->add_option("id", status_id, "Campaign id")->required()->check(CLI::PositiveNumber);

  LeaderboardOptions leaderboard;
  auto* leaderboard_cmd = app.add_subcommand("leaderboard", "Best ensembles of a campaign");
  leaderboard_cmd->add_option("id", leaderboard.campaign_id, "Campaign id")->required()->check(CLI::PositiveNumber);
  leaderboard_cmd->add_option("--top", leaderboard.top, "How many entries (default 20)")->check(CLI::Range(1, 10000));
  leaderboard_cmd->add_option("--by", leaderboard.by, "Rank by final or best test accuracy")
      ->check(CLI::IsMember({"final", "best"}));

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
  if (*submit_cmd) return Submit(submit, connection, *format, std::cout);
  if (*list_cmd) return List(connection, *format, std::cout);
  if (*status_cmd) return Status(status_id, connection, *format, std::cout);
  if (*leaderboard_cmd) return Leaderboard(leaderboard, connection, *format, std::cout);
  return kExitUsage;
}
