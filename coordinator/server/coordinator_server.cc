#include "coordinator/server/coordinator_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <unistd.h>

#include <fstream>
#include <pqxx/pqxx>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "coordinator/http/dashboard.h"
#include "coordinator/http/http_server.h"
#include "coordinator/http/readiness_probe.h"
#include "coordinator/metrics/metrics.h"
#include "coordinator/reaper/lease_reaper.h"
#include "coordinator/service/authenticator.h"
#include "coordinator/service/campaign_service.h"
#include "coordinator/service/rpc_runner.h"
#include "coordinator/service/worker_service.h"
#include "coordinator/store/change_listener.h"
#include "coordinator/store/migrations.h"
#include "coordinator/store/pg_job_store.h"
#include "coordinator/store/pg_pool.h"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {

// Declared in order of construction; destroyed in reverse.
struct CoordinatorServer::Parts {
  CoordinatorOptions options;
  std::unique_ptr<PgPool> pool;
  std::unique_ptr<PgJobStore> store;
  std::unique_ptr<ChangeListener> listener;  // null with db_notify off
  Metrics metrics;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<RpcRunner> runner;
  std::unique_ptr<WorkerServiceImpl> worker_service;
  std::unique_ptr<CampaignServiceImpl> campaign_service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<LeaseReaper> reaper;
  std::unique_ptr<ReadinessProbe> readiness;
  std::unique_ptr<Dashboard> dashboard;
  std::unique_ptr<HttpServer> http;
  int grpc_port = 0;

  std::mutex mu;
  bool shut_down = false;  // guarded by mu
};

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is empty"));
  return ss.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const CoordinatorOptions& o) {
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) {
    if (!o.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
    }
    return grpc::InsecureServerCredentials();
  }
  if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  auto cert = ReadFile("--tls-cert", o.tls_cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile("--tls-key", o.tls_key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!o.tls_client_ca_file.empty()) {
    auto ca = ReadFile("--tls-client-ca", o.tls_client_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

std::string DefaultInstanceId() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] ? host : "coordinator", ":", getpid());
}

// Sent with every HTTP response, whatever the route: nothing here may be
// framed, sniffed or run inline script.
HttpServerOptions HttpOptions(const CoordinatorOptions& options) {
  HttpServerOptions o;
  o.max_event_streams = options.ui_max_event_streams;
  o.default_headers = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
  };
  return o;
}

// /healthz is liveness: the process and its HTTP thread answer. It never asks
// the database (a database outage must not get a coordinator restarted: it
// rides the outage out). /readyz is readiness: the database answers a
// dedicated connection within the probe's deadline.
void AddOperationalRoutes(CoordinatorServer::Parts& p, HttpServer& http) {
  http.Route("/healthz", HttpServer::Mode::kInline, [](const HttpRequest&) {
    return HttpResponse::Text(200, "ok\n");
  });
  http.Route("/readyz", HttpServer::Mode::kBlocking, [&p](const HttpRequest&) {
    absl::Status s = p.readiness->Check();
    if (s.ok()) return HttpResponse::Text(200, "ready\n");
    return HttpResponse::Text(503, absl::StrCat("database unreachable: ", s.message(), "\n"));
  });
  http.Route("/metrics", HttpServer::Mode::kBlocking, [&p](const HttpRequest&) {
    auto counts = p.store->CountJobsByState();
    HttpResponse r = HttpResponse::Text(200, p.metrics.Render(counts.ok() ? &*counts : nullptr, counts.ok()));
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  });
}

}  // namespace

CoordinatorServer::CoordinatorServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

CoordinatorServer::~CoordinatorServer() { Shutdown(absl::ZeroDuration()); }

int CoordinatorServer::grpc_port() const { return parts_->grpc_port; }
int CoordinatorServer::http_port() const { return parts_->http ? parts_->http->port() : 0; }

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    CoordinatorOptions options) {
  if (options.db_url.empty()) return absl::InvalidArgumentError("--db-url is required");
  if (options.admin_token.empty() || options.worker_token.empty()) {
    return absl::InvalidArgumentError("both an admin token and a worker token are required");
  }
  if (options.admin_token == options.worker_token) {
    return absl::InvalidArgumentError(
        "the worker token equals the admin token: workers could then submit and cancel campaigns");
  }
  if (options.lease <= absl::ZeroDuration()) return absl::InvalidArgumentError("--lease-seconds must be > 0");
  if (options.reaper_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--reaper-interval-ms must be > 0");
  }
  if (options.db_pool < 1 || options.db_pool > 1000) {
    return absl::InvalidArgumentError("--db-pool must be in [1, 1000]");
  }
  if (options.ui && options.http_listen.empty()) {
    return absl::InvalidArgumentError("--ui needs the HTTP listener (--http-listen)");
  }
  if (!options.reader_token.empty() &&
      (options.reader_token == options.admin_token || options.reader_token == options.worker_token)) {
    return absl::InvalidArgumentError("the reader token must differ from the admin and worker tokens");
  }
  if (options.instance_id.empty()) options.instance_id = DefaultInstanceId();
  if (options.worker_liveness <= absl::ZeroDuration()) options.worker_liveness = 2 * options.lease;

  auto p = std::make_unique<Parts>();
  p->options = options;
  PgPoolOptions pool_options;
  pool_options.conninfo = options.db_url;
  pool_options.size = options.db_pool;
  p->pool = std::make_unique<PgPool>(pool_options);

  // Migrate, waiting for a database that is still starting (compose, systemd).
  const absl::Time give_up = absl::Now() + options.db_wait;
  for (;;) {
    absl::StatusOr<int> applied = absl::UnknownError("not run");
    absl::Status s = p->pool->Run("migrating the schema", [&](pqxx::connection& conn) {
      applied = ApplyMigrations(conn);
      return applied.status();
    });
    if (s.ok()) {
      spdlog::info("database schema up to date ({} migrations applied now)", *applied);
      break;
    }
    if (!absl::IsUnavailable(s) || absl::Now() >= give_up) return s;
    spdlog::warn("waiting for the database: {}", std::string(s.message()));
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }

  PgJobStoreOptions store_options;
  store_options.instance_id = options.instance_id;
  store_options.backoff_base = options.backoff_base;
  store_options.backoff_max = options.backoff_max;
  store_options.worker_liveness = options.worker_liveness;
  store_options.checkpoint_affinity = options.checkpoint_affinity;
  p->store = std::make_unique<PgJobStore>(*p->pool, store_options);
  p->auth = std::make_unique<Authenticator>(options.admin_token, options.worker_token);
  p->runner = std::make_unique<RpcRunner>(*p->auth, p->metrics);
  p->worker_service = std::make_unique<WorkerServiceImpl>(
      *p->store, *p->runner, WorkerServiceOptions{options.lease, options.retry_after_ms});
  if (options.db_notify) {
    ChangeListenerOptions listen;
    listen.conninfo = options.db_url;
    p->listener = std::make_unique<ChangeListener>(listen);
    p->listener->Start();
  }
  CampaignServiceOptions campaign_options;
  campaign_options.limits = options.limits;
  campaign_options.watch_poll = options.watch_poll;
  campaign_options.watch_resync = options.watch_resync;
  p->campaign_service = std::make_unique<CampaignServiceImpl>(*p->store, *p->runner, campaign_options,
                                                              p->listener.get());

  auto creds = Credentials(options);
  if (!creds.ok()) return creds.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *creds, &p->grpc_port);
  builder.SetMaxReceiveMessageSize(options.max_receive_bytes);
  builder.RegisterService(p->worker_service.get());
  builder.RegisterService(p->campaign_service.get());
  p->server = builder.BuildAndStart();
  if (!p->server || p->grpc_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }

  p->reaper = std::make_unique<LeaseReaper>(*p->store, p->metrics, options.reaper_interval,
                                            options.lease);
  p->reaper->Start();

  if (!options.http_listen.empty()) {
    ReadinessProbeOptions probe;
    probe.conninfo = options.db_url;
    p->readiness = std::make_unique<ReadinessProbe>(probe);
    p->http = std::make_unique<HttpServer>(HttpOptions(options));
    AddOperationalRoutes(*p, *p->http);
    if (options.ui) {
      DashboardOptions d;
      d.admin_token = options.admin_token;
      d.reader_token = options.reader_token;
      d.worker_token = options.worker_token;
      d.feed_poll = options.ui_feed_poll;
      d.feed_resync = options.watch_resync;
      d.cache = options.ui_cache;
      p->dashboard = std::make_unique<Dashboard>(*p->store, *p->pool, d, p->listener.get());
      p->dashboard->AddRoutes(*p->http);
    }
    absl::Status s = p->http->Start(options.http_listen);
    if (!s.ok()) {
      p->server->Shutdown();
      p->reaper->Stop();
      return s;
    }
    if (p->dashboard) p->dashboard->Start(*p->http);
  }
  spdlog::info("coordinator instance {}: lease {}s, reaper every {}ms, db pool {}",
               options.instance_id, absl::ToInt64Seconds(options.lease),
               absl::ToInt64Milliseconds(options.reaper_interval), options.db_pool);
  return std::unique_ptr<CoordinatorServer>(new CoordinatorServer(std::move(p)));
}

void CoordinatorServer::Shutdown(absl::Duration grace) {
  {
    std::lock_guard<std::mutex> lock(parts_->mu);
    if (parts_->shut_down) return;
    parts_->shut_down = true;
  }
  parts_->campaign_service->Stop();
  parts_->server->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  parts_->reaper->Stop();
  if (parts_->dashboard) parts_->dashboard->Stop();
  if (parts_->http) parts_->http->Stop();
  if (parts_->listener) parts_->listener->Stop();
}

void CoordinatorServer::Wait() { parts_->server->Wait(); }

}  // namespace moe4::coordinator
