// moe4ctl subcommands. Each returns the process exit code; scripts can rely on:
//   0  success
//   1  the coordinator refused or failed the request (not found, conflict, ...)
//   2  bad usage or invalid input (e.g. a spec that does not validate)
//   3  the coordinator is unreachable or timed out
//   4  authentication or permission failure
// `watch` adds 130 for an interrupt (Ctrl-C), as shells report SIGINT.
//
// The implementations live in ctl/commands/<group>.cc; ctl/cli.cc maps the
// command line onto these calls. Not thread-safe; one command per process.
#pragma once

#include <cstdint>
#include <iostream>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "ctl/connection.h"
#include "ctl/output.h"

namespace moe4::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnavailable = 3;
inline constexpr int kExitAuth = 4;
inline constexpr int kExitInterrupted = 130;

// Maps a gRPC status to an exit code and prints "moe4ctl: <what>: <message>".
int ReportRpcError(const grpc::Status& status, const std::string& what);
int ExitCodeFor(const absl::Status& status);

// What every command is given: where the coordinator is and how to print.
struct CommandEnv {
  ConnectionOptions connection;
  OutputFormat format = OutputFormat::kTable;
  std::ostream* out = &std::cout;
  Style style;          // colours for table output; off unless stdout is a terminal
  bool terminal = false;  // stdout is a terminal: `watch` redraws in place

  // Table cells in human units, CSV cells as raw numbers for spreadsheets:
  // a fraction as "87.3%" or "0.873", seconds as "3m 20s" or "200".
  std::string Pct(double fraction) const;
  std::string Secs(double seconds) const;
};

// --- campaigns (commands/submit.cc, commands/campaigns.cc, commands/watch.cc)
struct SubmitOptions {
  std::string file;
  bool dry_run = false;   // validate and sample locally; contact nothing
};
int Submit(const SubmitOptions& options, const CommandEnv& env);
int List(const CommandEnv& env);
int Status(int64_t campaign_id, const CommandEnv& env);
// Follows the Watch stream, redrawing the status, until the campaign is done
// (0), cancelled (1), or Ctrl-C (130).
int Watch(int64_t campaign_id, const CommandEnv& env);
int Cancel(int64_t campaign_id, const CommandEnv& env);
int Pause(int64_t campaign_id, const CommandEnv& env);
int Resume(int64_t campaign_id, const CommandEnv& env);

// --- jobs and workers (commands/jobs.cc, commands/workers.cc)
int Workers(const CommandEnv& env);
struct JobsOptions {
  int64_t campaign_id = 0;
  std::string state;      // "" = all, else pending|leased|running|succeeded|failed|cancelled|waiting|stopped
  int limit = 0;          // 0 = every job
};
int Jobs(const JobsOptions& options, const CommandEnv& env);
int Job(int64_t job_id, const CommandEnv& env);

// --- results (commands/leaderboard.cc, commands/families.cc, ...)
struct LeaderboardOptions {
  int64_t campaign_id = 0;
  int top = 20;
  std::string by = "validation";   // validation | final
};
int Leaderboard(const LeaderboardOptions& options, const CommandEnv& env);
// rung: an asha campaign's rung (-1 = the server's default, rung 0: every
// sampled combination).
int Families(int64_t campaign_id, int rung, const CommandEnv& env);
// Both campaigns' FamilyStats joined by family (commands/families.cc).
int Compare(int64_t campaign_a, int64_t campaign_b, const CommandEnv& env);
struct PairsOptions {
  int64_t campaign_id = 0;
  double top_fraction = 0.1;  // what "the best ensembles" means
  bool all = false;           // every pair, not only those with lift > 1
  int rung = -1;              // asha: the rung's candidates (-1 = rung 0, every sampled combination)
};
int Pairs(const PairsOptions& options, const CommandEnv& env);
int Coverage(int64_t campaign_id, const CommandEnv& env);
struct EcologyOptions {
  int64_t campaign_id = 0;
  double threshold = 0.5;     // the E of the claim under test
  bool points = false;        // list every ensemble instead of the buckets
  // Instead of the claim: this job's per-expert per-class accuracy table and
  // specialisation at its selected epoch (the last while it runs); 0 = off.
  int64_t per_class_job = 0;
};
int Ecology(const EcologyOptions& options, const CommandEnv& env);

// --- files (commands/export.cc, commands/report.cc)
struct ExportOptions {
  int64_t campaign_id = 0;
  std::string format = "csv";  // csv | json
  std::string out;             // "" = stdout
};
int Export(const ExportOptions& options, const CommandEnv& env);
struct ReportOptions {
  int64_t campaign_id = 0;
  std::string html;            // the page to write
  int curves = 10;             // accuracy curves of this many top candidates
  int leaderboard = 20;        // rows of the leaderboard table
};
int Report(const ReportOptions& options, const CommandEnv& env);

}  // namespace moe4::ctl
