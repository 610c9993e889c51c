// A small HTTP/1.1 server on Boost.Beast for the coordinator's operational
// endpoints (/healthz, /readyz, /metrics) and, with --ui, the dashboard and its
// JSON API.
//
// One io_context thread does all socket work: each connection reads one
// request (with a deadline, so a slow client cannot hold anything), answers,
// and closes. Routes are kInline (run on the io thread: must never block, e.g.
// /healthz) or kBlocking (run on a small handler pool, e.g. anything that asks
// the database), so a slow database can never delay liveness. An event-stream
// response (Server-Sent Events) keeps its connection open and receives what
// Publish() sends; it costs a socket and a bounded queue on the io thread, no
// thread of its own.
//
// Route() before Start(); Start/Stop from one thread. Publish() and
// event_streams() are safe from any thread. Handlers must be safe to call
// concurrently (blocking ones run on several threads).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace moe4::coordinator {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target up to '?', not decoded
  std::string query;   // after '?', raw
  HttpHeaders headers; // names in lower case
  std::string body;

  // The first header of that (lower-case) name; "" when absent.
  std::string Header(std::string_view lower_name) const;
  // The percent-decoded value of the first query parameter `name`; "" when
  // absent (HasQuery tells an empty value from none).
  std::string Query(std::string_view name) const;
  bool HasQuery(std::string_view name) const;
  // The value of cookie `name` from the Cookie header; "" when absent.
  std::string Cookie(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  HttpHeaders headers;        // extra headers (Set-Cookie, Cache-Control, ...)
  bool event_stream = false;  // 200 + true: stay open and carry Publish()ed events

  // A text/plain answer.
  static HttpResponse Text(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
};

struct HttpServerOptions {
  int handler_threads = 4;                 // threads running kBlocking routes
  size_t max_body_bytes = 16 * 1024;       // larger request bodies are refused (413)
  // More open event streams are refused (503; the dashboard then polls).
  // Each costs a socket, so the coordinator raises its open-file limit.
  int max_event_streams = 1024;
  size_t max_queued_events = 64;           // a stream further behind is dropped
  absl::Duration keepalive = absl::Seconds(15);  // comment line to every stream this often
  HttpHeaders default_headers;             // added to every response (security headers)
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  enum class Mode { kInline, kBlocking };

  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `path` matches exactly, or, when it ends in '/', every path under it; the
  // longest match wins. Unmatched paths get 404. Before Start only.
  void Route(std::string path, Mode mode, Handler handler);

  // Binds "host:port" (port 0 picks a free one) and starts serving.
  absl::Status Start(const std::string& listen);
  void Stop();  // idempotent
  int port() const { return port_; }

  // Sends one Server-Sent Event to every open event stream.
  void Publish(std::string_view event, std::string_view data);
  int event_streams() const { return event_streams_.load(); }

  // Implementation detail of the .cc (connections and streams).
  class Connection;

 private:
  struct RouteEntry {
    std::string path;
    Mode mode;
    Handler handler;
  };
  const RouteEntry* Find(std::string_view path) const;
  void Accept();
  void Keepalive();
  void Broadcast(const std::shared_ptr<const std::string>& frame);  // io thread

  const HttpServerOptions options_;
  std::vector<RouteEntry> routes_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer keepalive_timer_;
  boost::asio::thread_pool pool_;
  std::set<std::shared_ptr<Connection>> streams_;  // touched on the io thread only
  std::atomic<int> event_streams_{0};
  std::thread thread_;
  int port_ = 0;
};

}  // namespace moe4::coordinator
