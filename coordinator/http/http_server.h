// A minimal HTTP/1.1 server on Boost.Beast for operational endpoints
// (/healthz, /metrics). One io_context thread; each connection reads one
// request (with a deadline, so a slow client cannot hold the thread), answers,
// and closes. The handler runs on that thread and may block briefly (a
// database probe). Start/Stop from one thread; the handler must be safe to
// call from the server thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"

namespace moe4::coordinator {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  // (method, target path) -> response.
  using Handler = std::function<HttpResponse(std::string_view, std::string_view)>;

  explicit HttpServer(Handler handler);
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds "host:port" (port 0 picks a free one) and starts serving.
  absl::Status Start(const std::string& listen);
  void Stop();  // idempotent
  int port() const { return port_; }

 private:
  void Accept();

  Handler handler_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace moe4::coordinator
