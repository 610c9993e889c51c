// moe4-coordinator: samples campaigns into jobs, leases them to workers, stores
// every result in PostgreSQL. See docs and coordinator/server/coordinator_server.h.
//
// Tokens come from files or the environment, never from flags: a command line
// is visible to every user through `ps`.
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "CLI/CLI.hpp"
#include "common/auth.h"
#include "common/logging.h"
#include "coordinator/server/coordinator_server.h"
#include "spdlog/spdlog.h"

namespace {

// Every worker's gRPC connection, pooled database connection and dashboard
// event stream holds a descriptor; the usual soft limit (1024) would refuse
// the 1001st. The hard limit is the operator's (systemd's LimitNOFILE=).
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, rlim_t{1} << 20);
  if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    spdlog::debug("open files: soft limit raised from {} to {}", before, limit.rlim_cur);
  }
}

}  // namespace

int main(int argc, char** argv) {
  moe4::coordinator::CoordinatorOptions o;
  std::string admin_token_file, worker_token_file, reader_token_file, log_level = "info";
  int64_t lease_seconds = 60, reaper_interval_ms = 1000;
  int64_t backoff_ms = absl::ToInt64Milliseconds(o.backoff_base);
  int64_t backoff_max_ms = absl::ToInt64Milliseconds(o.backoff_max);
  uint64_t max_budget = o.limits.max_budget;
  int max_epochs = o.limits.max_epochs;
  int64_t checkpoint_affinity_seconds = absl::ToInt64Seconds(o.checkpoint_affinity);

  CLI::App app{"moe4-coordinator: runs MoE architecture-search campaigns over gRPC workers"};
  app.add_option("--listen", o.listen, "gRPC listen address")->capture_default_str();
  app.add_option("--db-url", o.db_url,
                 "PostgreSQL conninfo or URI (default: env MOE4_DB_URL)");
  app.add_option("--db-pool", o.db_pool, "database connections")->capture_default_str()
      ->check(CLI::Range(1, 1000));
  // LISTEN needs a session of its own: through a transaction-pooling proxy
  // (PgBouncer pool_mode=transaction) notifications never arrive.
  bool no_db_notify = false;
  app.add_flag("--no-db-notify", no_db_notify,
               "do not LISTEN for database change notifications; watch streams and the dashboard poll "
               "(needed behind a transaction-pooling proxy)");
  app.add_option("--lease-seconds", lease_seconds, "job lease; workers heartbeat at least every third")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{86400}));
  app.add_option("--reaper-interval-ms", reaper_interval_ms, "how often expired leases are reaped")
      ->capture_default_str()->check(CLI::Range(int64_t{10}, int64_t{3600000}));
  app.add_option("--retry-backoff-ms", backoff_ms,
                 "delay before a failed or expired job is leased again; doubles per attempt")
      ->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{86400000}));
  app.add_option("--retry-backoff-max-ms", backoff_max_ms, "cap of the doubling retry delay")
      ->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{86400000}));
  // "off" as well as "": CLI11 reads `--http-listen= --next-flag` as the
  // value "--next-flag", so an empty value is only safe as a separate word.
  app.add_option("--http-listen", o.http_listen,
                 "/healthz, /readyz, /metrics (and --ui) address (off or \"\" disables)")
      ->capture_default_str();
  app.add_flag("--ui", o.ui, "serve the dashboard and its JSON API (/, /api/v1) on --http-listen");
  app.add_option("--max-budget", max_budget, "most jobs one campaign may create")
      ->capture_default_str()->check(CLI::Range(uint64_t{1}, uint64_t{10000000}));
  app.add_option("--max-epochs", max_epochs, "most epochs a recipe may ask for")
      ->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--checkpoint-affinity-seconds", checkpoint_affinity_seconds,
                 "asha: how long a promoted job waits for the worker holding its rung checkpoint "
                 "before another worker may retrain it from scratch")
      ->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{86400}));
  app.add_option("--admin-token-file", admin_token_file,
                 "file holding the admin token (default: env MOE4_ADMIN_TOKEN)");
  app.add_option("--worker-token-file", worker_token_file,
                 "file holding the worker token (default: env MOE4_WORKER_TOKEN)");
  app.add_option("--reader-token-file", reader_token_file,
                 "file holding the dashboard's read-only token (default: env MOE4_READER_TOKEN; optional)");
  app.add_option("--tls-cert", o.tls_cert_file, "PEM certificate chain: serve TLS");
  app.add_option("--tls-key", o.tls_key_file, "PEM private key for --tls-cert");
  app.add_option("--tls-client-ca", o.tls_client_ca_file,
                 "PEM CA bundle: require and verify client certificates");
  app.add_option("--instance-id", o.instance_id, "name in jobs.lease_owner (default host:pid)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  o.db_notify = !no_db_notify;

  if (o.http_listen == "off") o.http_listen.clear();
  if (absl::Status s = moe4::InitLogging("moe4-coordinator", log_level); !s.ok()) {
    std::cerr << "moe4-coordinator: " << s.message() << "\n";
    return 2;
  }
  RaiseOpenFileLimit();
  if (o.db_url.empty()) {
    if (const char* env = std::getenv("MOE4_DB_URL")) o.db_url = env;
  }
  if (o.db_url.empty()) {
    spdlog::error("no database: pass --db-url or set MOE4_DB_URL");
    return 2;
  }
  auto admin = moe4::LoadToken(admin_token_file, "MOE4_ADMIN_TOKEN");
  auto worker = moe4::LoadToken(worker_token_file, "MOE4_WORKER_TOKEN");
  if (!admin.ok() || !worker.ok()) {
    spdlog::error("refusing to start without both tokens: {}",
                  std::string(!admin.ok() ? admin.status().message() : worker.status().message()));
    return 2;
  }
  if (!reader_token_file.empty() || std::getenv("MOE4_READER_TOKEN") != nullptr) {
    auto reader = moe4::LoadToken(reader_token_file, "MOE4_READER_TOKEN");
    if (!reader.ok()) {
      spdlog::error("reader token: {}", std::string(reader.status().message()));
      return 2;
    }
    o.reader_token = *reader;
  }
  o.admin_token = *admin;
  o.worker_token = *worker;
  o.lease = absl::Seconds(lease_seconds);
  o.reaper_interval = absl::Milliseconds(reaper_interval_ms);
  o.backoff_base = absl::Milliseconds(backoff_ms);
  o.backoff_max = absl::Milliseconds(backoff_max_ms);
  o.limits.max_budget = max_budget;
  o.limits.max_epochs = max_epochs;
  o.checkpoint_affinity = absl::Seconds(checkpoint_affinity_seconds);

  // Installed before any server thread starts, so SIGINT/SIGTERM always reach
  // this io_context rather than killing the process mid-transaction.
  boost::asio::io_context signals_io(1);
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM);

  auto server = moe4::coordinator::CoordinatorServer::Start(o);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", server.status().ToString());
    return 1;
  }
  std::string http = o.http_listen.empty()
                         ? std::string("disabled")
                         : o.http_listen.substr(0, o.http_listen.rfind(':')) + ":" +
                               std::to_string((*server)->http_port());
  spdlog::info("http (/healthz, /metrics): {}", http);
  if (o.ui) spdlog::info("dashboard: http://{}/", http);
  // Scripts wait for this exact line.
  std::printf("moe4-coordinator listening on %s\n",
              (o.listen.substr(0, o.listen.rfind(':')) + ":" +
               std::to_string((*server)->grpc_port()))
                  .c_str());
  std::fflush(stdout);

  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", signo);
    (*server)->Shutdown();
  });
  signals_io.run();
  server->reset();
  spdlog::info("stopped");
  return 0;
}
