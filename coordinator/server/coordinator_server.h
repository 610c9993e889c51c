// CoordinatorServer: one running coordinator, wired from its options: the
// Postgres pool and store (schema migrated at start), the gRPC services, the
// lease reaper and the HTTP endpoint. main() owns one; tests run one or more
// in-process on loopback. Start/Shutdown/Wait from the owning thread; the
// parts it owns are safe for concurrent use.
#pragma once

#include <grpcpp/server.h>

#include <cstdint>
#include <memory>
#include <string>

#include "coordinator/http/view_cache.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/campaign_spec.h"

namespace moe4::coordinator {

struct CoordinatorOptions {
  std::string listen = "127.0.0.1:50051";      // gRPC address; port 0 picks a free one
  std::string http_listen = "127.0.0.1:9464";  // /healthz and /metrics; "" disables
  std::string db_url;                          // libpq conninfo or URI; required
  int db_pool = 8;                             // database connections
  absl::Duration db_wait = absl::Seconds(30);  // keep retrying an unreachable DB at start
  absl::Duration lease = absl::Seconds(60);    // lease length; heartbeats extend it
  absl::Duration reaper_interval = absl::Milliseconds(1000);
  absl::Duration backoff_base = absl::Seconds(5);  // retry delay after attempt 1, doubling
  absl::Duration backoff_max = absl::Minutes(5);
  absl::Duration worker_liveness = absl::ZeroDuration();  // 0 = 2 * lease
  // asha: a promoted job waits this long for the worker holding its rung
  // checkpoint before any other worker may retrain it (PgJobStoreOptions).
  absl::Duration checkpoint_affinity = absl::Seconds(60);
  int retry_after_ms = 1000;                   // idle workers poll this often
  absl::Duration watch_poll = absl::Seconds(1);     // Watch/dashboard re-read without notifications
  absl::Duration watch_resync = absl::Seconds(1);   // ... and with them (epochs notify nothing)
  // LISTEN for the database's change notifications (migration 014) so that
  // Watch streams and the dashboard update at once; off = polling only.
  bool db_notify = true;
  SpecLimits limits;                           // max_budget etc.
  int max_receive_bytes = 4 * 1024 * 1024;     // largest request accepted
  std::string admin_token;                     // required, distinct from worker_token
  std::string worker_token;                    // required
  std::string tls_cert_file;                   // PEM; with tls_key_file enables TLS
  std::string tls_key_file;
  std::string tls_client_ca_file;              // PEM; when set clients must present a cert
  std::string instance_id;                     // "" = hostname:pid; written as lease_owner
  bool ui = false;                             // serve the dashboard and /api/v1 on http_listen
  std::string reader_token;                    // "" = none; read-only role on the dashboard
  absl::Duration ui_feed_poll = absl::Seconds(1);  // dashboard change-feed poll
  ViewCacheOptions ui_cache;                   // the dashboard's campaign summaries (view_cache.h)
  int ui_max_event_streams = HttpServerOptions{}.max_event_streams;  // live feeds; more pages poll
};

class CoordinatorServer {
 public:
  // Connects (waiting up to db_wait), migrates, and starts serving.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(CoordinatorOptions options);
  ~CoordinatorServer();  // shuts down

  int grpc_port() const;
  int http_port() const;  // 0 when HTTP is disabled

  // Stops accepting calls, ends Watch streams, waits up to `grace` for calls in
  // flight, then stops the reaper and HTTP. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));
  // Blocks until Shutdown has run.
  void Wait();

  struct Parts;  // defined in the .cc

 private:
  explicit CoordinatorServer(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace moe4::coordinator
