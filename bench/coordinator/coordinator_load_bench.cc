// Coordinator load benchmark (issue 9, item 1): how many trials per second the
// real moe4-coordinator and PostgreSQL sustain when N workers do nothing but
// talk to it.
//
//   coordinator_load_bench --coordinator build/coordinator/moe4-coordinator
//       [--pg-url CONNINFO] [--workers 1,8,32,128] [--seconds 10] [--warmup-seconds 2]
//       [--jobs 30000] [--json FILE] [--coordinator-arg=--db-pool=16 ...]
//
// For each worker count N, from scratch: a fresh database on the PostgreSQL
// server (--pg-url, default $MOE4_PG_URL; needs CREATEDB), the coordinator
// binary started on it as a child process with token files, one campaign
// submitted through CampaignService.Submit (synthetic dataset, 10 epochs), and
// N worker threads, each with its own gRPC channel and connection, running
// trials exactly as moe4-worker does minus the training: Lease, one
// ReportEpochs per epoch, Complete. After a warm-up, a window of --seconds is
// measured (see window_stats.h), with the CPU the coordinator, the PostgreSQL
// server, this process and the whole machine spent in it. By default the
// database is ANALYZEd after the submission, so the planner knows the new jobs
// as autovacuum would tell it within a minute; --no-analyze measures that
// first minute, in which every Lease scans and sorts all pending jobs. Then
// the workers finish their trial in flight, the coordinator is stopped, and
// the database is audited: every trial the workers completed must be a
// succeeded job with epoch rows exactly 1..10, and nothing else may be stored.
// Then it is dropped.
//
// Prints one table and, with --json, writes the same figures as one object.
// Exit status 1 when any run fails or its audit finds a difference.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/coordinator/coordinator_process.h"
#include "bench/coordinator/cpu_clock.h"
#include "bench/coordinator/epoch_audit.h"
#include "bench/coordinator/load_worker.h"
#include "bench/coordinator/scratch_database.h"
#include "bench/coordinator/window_stats.h"
#include "common/auth.h"
#include "common/status.h"
#include "moe4/v1/moe4.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace moe4::bench {
namespace {

// Issue 9's targets, printed next to the figures (not asserted).
constexpr double kTargetTrialsPerSecond = 1000;
constexpr double kTargetOptunaRatio = 50;
// K = 5 over the whole catalogue of 29 families: C(29, 5) = 118,755 distinct
// combinations, the most one campaign of this spec can have.
constexpr int kFamiliesPerJob = 5;
constexpr int64_t kMaxJobs = 118755;

struct BenchOptions {
  std::string coordinator;  // moe4-coordinator binary
  std::string pg_url;       // superuser conninfo of the server
  std::vector<int> workers{1, 8, 32, 128};
  double seconds = 10;                         // measured window per N
  double warmup_seconds = 2;                   // before the window: connections, caches, plans
  int64_t jobs = 30000;                        // campaign budget per N; must outlast the window
  int epochs = 10;                             // per trial, one ReportEpochs each
  std::string coordinator_log_level = "info";  // as deployed
  std::vector<std::string> coordinator_args;   // extra flags, e.g. --db-pool=16
  std::string json_path;
  bool keep = false;  // keep databases and the work directory
  // ANALYZE after submitting, i.e. measure the steady state of a campaign
  // older than a minute rather than the minute before autovacuum's first
  // ANALYZE of the freshly inserted jobs (see scratch_database.h).
  bool analyze = true;
};

// CPU seconds at one instant; absent where /proc could not tell.
struct CpuSnapshot {
  std::optional<double> coordinator, postgres, bench;
  std::optional<MachineCpu> machine;

  static CpuSnapshot Take(pid_t coordinator_pid, std::optional<pid_t> postgres_pid) {
    CpuSnapshot s;
    s.coordinator = ProcessCpuSeconds(coordinator_pid);
    if (postgres_pid) s.postgres = ProcessTreeCpuSeconds(*postgres_pid);
    s.bench = ProcessCpuSeconds(getpid());
    s.machine = ReadMachineCpu();
    return s;
  }
};

// CPU spent in a window, as a percentage of one core (200 = two cores busy).
struct CpuWindow {
  std::optional<double> coordinator_percent, postgres_percent, bench_percent;
  std::optional<double> coordinator_seconds;
  std::optional<double> machine_busy_percent;  // of all cores

  static CpuWindow Between(const CpuSnapshot& a, const CpuSnapshot& b, double seconds) {
    auto percent = [&](const std::optional<double>& x, const std::optional<double>& y) -> std::optional<double> {
      if (!x || !y) return std::nullopt;
      return (*y - *x) / seconds * 100.0;
    };
    CpuWindow w;
    w.coordinator_percent = percent(a.coordinator, b.coordinator);
    w.postgres_percent = percent(a.postgres, b.postgres);
    w.bench_percent = percent(a.bench, b.bench);
    if (a.coordinator && b.coordinator) w.coordinator_seconds = *b.coordinator - *a.coordinator;
    if (a.machine && b.machine && b.machine->total > a.machine->total) {
      w.machine_busy_percent = (b.machine->busy - a.machine->busy) / (b.machine->total - a.machine->total) * 100.0;
    }
    return w;
  }
};

struct RunResult {
  int workers = 0;
  int64_t campaign_id = 0;
  double submit_seconds = 0;
  WindowStats window;
  CpuWindow cpu;
  int64_t client_trials = 0;  // all trials completed, drain included
  EpochAudit audit;
  std::string audit_problems;  // "" = verified
};

std::string RandomToken() {
  std::random_device rd;
  std::string token;
  for (int i = 0; i < 4; ++i) token += absl::StrFormat("%08x", rd());
  return token;
}

// Writes a token file readable by its owner only, from the first byte on.
absl::Status WriteSecretFile(const std::filesystem::path& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const std::string line = text + "\n";
  const bool ok = fd >= 0 && write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  if (fd >= 0) close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("cannot write ", path.string(), ": ", std::strerror(errno)));
  return absl::OkStatus();
}

std::string SpecYaml(const std::string& name, int64_t jobs, int epochs) {
  // families: left out = the whole catalogue. uniform: the cheapest sampler
  // to plan, so submission stays short at tens of thousands of jobs.
  // catalogue: adapted, because no single input size fits every family of
  // the (default) lemur catalogue, so a whole-catalogue pool is refused there.
  return absl::StrCat("name: ", name, "\nk: ", kFamiliesPerJob, "\ncatalogue: adapted\nsampler: uniform\nbudget: ", jobs,
                      "\nseed: 1\ndataset: {name: synthetic}\nrecipe: {epochs: ", epochs, "}\n");
}

absl::StatusOr<int64_t> SubmitCampaign(const std::string& address, const std::string& admin_token,
                                       const std::string& spec_yaml) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = moe4::v1::CampaignService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata(std::string(kAuthMetadataKey), BearerValue(admin_token));
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
  moe4::v1::SubmitRequest req;
  req.set_spec_yaml(spec_yaml);
  moe4::v1::SubmitResponse resp;
  absl::Status s = FromGrpcStatus(stub->Submit(&ctx, req, &resp));
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("CampaignService.Submit: ", s.message()));
  return resp.campaign_id();
}

void Progress(const std::string& message) { std::cerr << "coordinator_load_bench: " << message << std::endl; }

absl::StatusOr<RunResult> RunOnce(const BenchOptions& o, int n, const std::filesystem::path& work_dir) {
  RunResult result;
  result.workers = n;
  const std::string db_name = absl::StrCat("moe4_coordbench_", getpid(), "_n", n);
  auto db = ScratchDatabase::Create(o.pg_url, db_name);
  if (!db.ok()) return db.status();
  if (o.keep) (*db)->Keep();

  const std::string admin_token = RandomToken(), worker_token = RandomToken();
  const auto admin_file = work_dir / "admin.token", worker_file = work_dir / "worker.token";
  if (absl::Status s = WriteSecretFile(admin_file, admin_token); !s.ok()) return s;
  if (absl::Status s = WriteSecretFile(worker_file, worker_token); !s.ok()) return s;

  CoordinatorProcessOptions co;
  co.binary = o.coordinator;
  co.log_path = (work_dir / absl::StrCat("coordinator-n", n, ".log")).string();
  // No fixed ports (other runs share the box), no HTTP endpoint. Flag and
  // value as separate words: CLI11 treats quotes in "--flag=value" specially.
  co.args = {"--listen",
             "127.0.0.1:0",
             "--http-listen",
             "",
             "--db-url",
             (*db)->url(),
             "--admin-token-file",
             admin_file.string(),
             "--worker-token-file",
             worker_file.string(),
             "--max-budget",
             absl::StrCat(o.jobs),
             "--log-level",
             o.coordinator_log_level};
  co.args.insert(co.args.end(), o.coordinator_args.begin(), o.coordinator_args.end());
  auto coordinator = CoordinatorProcess::Start(co);
  if (!coordinator.ok()) return coordinator.status();
  const std::string address = (*coordinator)->address();

  const Clock::time_point submit_start = Clock::now();
  auto campaign =
      SubmitCampaign(address, admin_token, SpecYaml(absl::StrCat("coordinator-load-n", n), o.jobs, o.epochs));
  if (!campaign.ok()) return campaign.status();
  result.campaign_id = *campaign;
  result.submit_seconds = std::chrono::duration<double>(Clock::now() - submit_start).count();
  Progress(absl::StrFormat("N=%d: coordinator pid %d on %s, campaign %d (%d jobs) submitted in %.1f s", n,
                           (*coordinator)->pid(), address, *campaign, o.jobs, result.submit_seconds));
  if (o.analyze) {
    if (absl::Status s = Analyze((*db)->url()); !s.ok()) return s;
  }

  std::vector<std::unique_ptr<LoadWorker>> workers;
  for (int i = 0; i < n; ++i) {
    workers.push_back(std::make_unique<LoadWorker>(
        LoadWorkerOptions{address, worker_token, absl::StrCat("bench-", getpid(), "-w", i)}));
    if (absl::Status s = workers.back()->Register(); !s.ok()) return s;
  }
  const std::optional<pid_t> postgres_pid = LocalServerPid((*db)->url());

  std::atomic<bool> stop{false};
  std::atomic<int> ended{0};  // workers whose Run returned (error or nothing left)
  std::vector<std::thread> threads;
  const Clock::time_point origin = Clock::now();
  for (auto& w : workers) {
    threads.emplace_back([&stop, &ended, worker = w.get()] {
      worker->Run(stop);
      ended.fetch_add(1);
    });
  }
  const Clock::time_point begin =
      origin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup_seconds));
  const Clock::time_point planned_end =
      begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::this_thread::sleep_until(begin);
  const CpuSnapshot cpu_begin = CpuSnapshot::Take((*coordinator)->pid(), postgres_pid);
  // A worker that ends early failed or found nothing to lease: stop there
  // rather than measure a shrinking fleet.
  while (Clock::now() < planned_end && ended.load() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const Clock::time_point end = std::min(Clock::now(), planned_end);
  const CpuSnapshot cpu_end = CpuSnapshot::Take((*coordinator)->pid(), postgres_pid);
  stop.store(true);
  Progress(absl::StrFormat("N=%d: window over, %d workers finishing their trial in flight", n, n));
  for (auto& t : threads) t.join();

  std::vector<const WorkerRecord*> records;
  for (const auto& w : workers) {
    const WorkerRecord& r = w->record();
    if (!r.error.ok()) {
      return absl::Status(r.error.code(), absl::StrCat("N=", n, ": a worker failed: ", r.error.message(),
                                                       " (coordinator log: ", co.log_path, ")"));
    }
    if (r.ran_out && r.ran_out_at < planned_end) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("N=%d: the campaign's %d jobs ran out %.1f s into the window; raise --jobs", n, o.jobs,
                          std::chrono::duration<double>(r.ran_out_at - begin).count()));
    }
    records.push_back(&r);
    result.client_trials += static_cast<int64_t>(r.complete.size());
  }
  result.window = Summarise(records, begin, end);
  result.cpu = CpuWindow::Between(cpu_begin, cpu_end, result.window.seconds);

  if (absl::Status s = (*coordinator)->Stop(); !s.ok()) Progress(absl::StrCat("N=", n, ": ", s.message()));
  auto audit = AuditEpochs((*db)->url(), result.campaign_id, o.epochs);
  if (!audit.ok()) return audit.status();
  result.audit = *audit;
  result.audit_problems = audit->Problems(result.client_trials, o.epochs);
  return result;
}

std::string Opt(const std::optional<double>& v, int precision) {
  return v ? absl::StrFormat("%.*f", precision, *v) : "n/a";
}

nlohmann::json OptJson(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

nlohmann::json LatencyJson(const LatencySummary& l) {
  return {{"count", l.count}, {"p50", l.p50_ms}, {"p99", l.p99_ms}, {"mean", l.mean_ms}, {"max", l.max_ms}};
}

double TrialsPerSecond(const RunResult& r) { return r.window.trials / r.window.seconds; }

std::optional<double> CpuMsPerTrial(const RunResult& r) {
  if (!r.cpu.coordinator_seconds || r.window.trials == 0) return std::nullopt;
  return *r.cpu.coordinator_seconds * 1000.0 / r.window.trials;
}

void PrintTable(const BenchOptions& o, const std::vector<RunResult>& results) {
  std::printf(
      "Coordinator load: %d epochs per trial (one ReportEpochs each), %.0f s window after %.0f s "
      "warm-up, %u cores\n",
      o.epochs, o.seconds, o.warmup_seconds, std::thread::hardware_concurrency());
  std::printf("  %7s %8s %9s %12s %16s %17s %19s %11s %12s %10s %9s %9s %8s\n", "workers", "trials", "trials/s",
              "epoch rows/s", "lease p50/p99 ms", "report p50/p99 ms", "complete p50/p99 ms", "coord CPU%",
              "CPU-ms/trial", "pg CPU%", "bench CPU%", "box busy%", "verified");
  for (const RunResult& r : results) {
    const WindowStats& w = r.window;
    std::printf("  %7d %8lld %9.1f %12.1f %16s %17s %19s %11s %12s %10s %9s %9s %8s\n", r.workers,
                static_cast<long long>(w.trials), TrialsPerSecond(r), w.epoch_rows / w.seconds,
                absl::StrFormat("%.2f / %.2f", w.lease.p50_ms, w.lease.p99_ms).c_str(),
                absl::StrFormat("%.2f / %.2f", w.report.p50_ms, w.report.p99_ms).c_str(),
                absl::StrFormat("%.2f / %.2f", w.complete.p50_ms, w.complete.p99_ms).c_str(),
                Opt(r.cpu.coordinator_percent, 0).c_str(), Opt(CpuMsPerTrial(r), 2).c_str(),
                Opt(r.cpu.postgres_percent, 0).c_str(), Opt(r.cpu.bench_percent, 0).c_str(),
                Opt(r.cpu.machine_busy_percent, 0).c_str(), r.audit_problems.empty() ? "yes" : "NO");
  }
  std::printf("  CPU%% = %% of one core over the window; box busy%% = all cores, every process on the machine\n");
  std::printf("  target: >= %.0f trials/s on 2 cores, >= %.0fx Optuna's trials/s (bench/coordinator/run.sh)\n",
              kTargetTrialsPerSecond, kTargetOptunaRatio);
}

nlohmann::json ResultsJson(const BenchOptions& o, const std::vector<RunResult>& results) {
  nlohmann::json runs = nlohmann::json::array();
  for (const RunResult& r : results) {
    runs.push_back({
        {"workers", r.workers},
        {"seconds", r.window.seconds},
        {"trials", r.window.trials},
        {"trials_per_second", TrialsPerSecond(r)},
        {"epoch_rows", r.window.epoch_rows},
        {"epoch_rows_per_second", r.window.epoch_rows / r.window.seconds},
        {"lease_ms", LatencyJson(r.window.lease)},
        {"report_ms", LatencyJson(r.window.report)},
        {"complete_ms", LatencyJson(r.window.complete)},
        {"coordinator_cpu_percent", OptJson(r.cpu.coordinator_percent)},
        {"coordinator_cpu_ms_per_trial", OptJson(CpuMsPerTrial(r))},
        {"postgres_cpu_percent", OptJson(r.cpu.postgres_percent)},
        {"bench_cpu_percent", OptJson(r.cpu.bench_percent)},
        {"machine_busy_percent", OptJson(r.cpu.machine_busy_percent)},
        {"submit_seconds", r.submit_seconds},
        {"client_trials_total", r.client_trials},
        {"audit",
         {{"verified", r.audit_problems.empty()},
          {"problems", r.audit_problems},
          {"succeeded_jobs", r.audit.succeeded},
          {"succeeded_with_epochs_1_to_n", r.audit.succeeded_full},
          {"epoch_rows", r.audit.epoch_rows},
          {"held_jobs", r.audit.held}}},
    });
  }
  return {{"benchmark", "coordinator_load"},
          {"epochs_per_trial", o.epochs},
          {"window_seconds", o.seconds},
          {"warmup_seconds", o.warmup_seconds},
          {"jobs_per_campaign", o.jobs},
          {"analyzed_after_submit", o.analyze},
          {"cores", std::thread::hardware_concurrency()},
          {"coordinator_args", o.coordinator_args},
          {"target_trials_per_second", kTargetTrialsPerSecond},
          {"target_optuna_ratio", kTargetOptunaRatio},
          {"runs", runs}};
}

int Main(int argc, char** argv) {
  BenchOptions o;
  CLI::App app{"coordinator_load_bench: trials/s of the real moe4-coordinator + PostgreSQL under N workers"};
  app.add_option("--coordinator", o.coordinator, "moe4-coordinator binary")->required()->check(CLI::ExistingFile);
  app.add_option("--pg-url", o.pg_url, "PostgreSQL superuser conninfo or URI (default: env MOE4_PG_URL)");
  app.add_option("--workers", o.workers, "worker counts, one run each")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--seconds", o.seconds, "measured window per run")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 3600.0));
  app.add_option("--warmup-seconds", o.warmup_seconds, "unmeasured start of each run")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--jobs", o.jobs, "campaign budget per run; must outlast warm-up + window")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxJobs));
  app.add_option("--epochs", o.epochs, "epochs per trial")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--coordinator-log-level", o.coordinator_log_level, "the coordinator's --log-level")
      ->capture_default_str();
  app.add_option("--coordinator-arg", o.coordinator_args,
                 "extra coordinator flag, repeatable, e.g. --coordinator-arg=--db-pool=16");
  app.add_option("--json", o.json_path, "also write the figures as JSON here");
  app.add_flag("--analyze,!--no-analyze", o.analyze,
               "ANALYZE after submitting, as autovacuum does within a minute (default on)");
  app.add_flag("--keep", o.keep, "keep the databases and the work directory (logs, tokens)");
  CLI11_PARSE(app, argc, argv);

  if (o.pg_url.empty()) {
    if (const char* env = std::getenv("MOE4_PG_URL")) o.pg_url = env;
  }
  if (o.pg_url.empty()) {
    std::cerr << "coordinator_load_bench: no PostgreSQL: pass --pg-url or set MOE4_PG_URL "
                 "(eval \"$(deploy/pg-throwaway.sh start)\" starts one)\n";
    return 2;
  }
  o.coordinator = std::filesystem::absolute(o.coordinator).string();

  char work_template[] = "/tmp/moe4-coordbench.XXXXXX";
  if (mkdtemp(work_template) == nullptr) {
    std::cerr << "coordinator_load_bench: cannot create a work directory in /tmp\n";
    return 1;
  }
  const std::filesystem::path work_dir = work_template;

  std::vector<RunResult> results;
  bool failed = false;
  for (int n : o.workers) {
    auto r = RunOnce(o, n, work_dir);
    if (!r.ok()) {
      std::cerr << "coordinator_load_bench: " << r.status().message() << "\n";
      failed = true;
      break;
    }
    if (!r->audit_problems.empty()) {
      std::cerr << "coordinator_load_bench: N=" << n << ": the database disagrees: " << r->audit_problems << "\n";
      failed = true;
    }
    Progress(absl::StrFormat("N=%d: %.1f trials/s, %d trials verified in the database", n, TrialsPerSecond(*r),
                             r->audit.succeeded_full));
    results.push_back(std::move(*r));
  }
  if (!results.empty()) PrintTable(o, results);
  if (!o.json_path.empty() && !results.empty()) {
    std::ofstream out(o.json_path);
    out << ResultsJson(o, results).dump(2) << "\n";
    if (!out) {
      std::cerr << "coordinator_load_bench: --json: cannot write " << o.json_path << "\n";
      failed = true;
    }
  }
  if (o.keep || failed) {
    Progress("logs and tokens kept in " + work_dir.string());
  } else {
    std::filesystem::remove_all(work_dir);
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace moe4::bench

int main(int argc, char** argv) { return moe4::bench::Main(argc, argv); }
