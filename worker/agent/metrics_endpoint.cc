#include "worker/agent/metrics_endpoint.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/collectable.h"
#include "prometheus/text_serializer.h"

namespace moe4::worker {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A scrape is one small request: whoever takes longer is not Prometheus.
constexpr std::chrono::seconds kRequestDeadline{5};

struct ParsedAddress {
  asio::ip::address ip;
  unsigned short port = 0;
};

absl::StatusOr<ParsedAddress> ParseListenAddress(const std::string& address) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("--http-listen ", address, ": ", why,
                                                   " (expected IPV4:PORT or [IPV6]:PORT, e.g. 127.0.0.1:9465)"));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return bad("no port");
  const std::string host = address.substr(0, colon);
  const std::string port_text = address.substr(colon + 1);
  int port = 0;
  if (port_text.empty() || port_text.find_first_not_of("0123456789") != std::string::npos ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  ParsedAddress parsed;
  parsed.port = static_cast<unsigned short>(port);
  boost::system::error_code ec;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    parsed.ip = asio::ip::make_address_v6(host.substr(1, host.size() - 2), ec);
    if (ec) return bad("not an IPv6 address");
    return parsed;
  }
  parsed.ip = asio::ip::make_address_v4(host, ec);
  if (ec) return bad("not an IPv4 address (names are not resolved: 127.0.0.1 rather than localhost)");
  return parsed;
}

http::response<http::string_body> Answer(const http::request<http::empty_body>& request,
                                         const std::weak_ptr<prometheus::Collectable>& metrics) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(false);
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  const beast::string_view target = request.target();
  const beast::string_view path = target.substr(0, target.find('?'));
  if (path != "/metrics") {
    response.result(http::status::not_found);
    response.body() = "not found: only /metrics is served here\n";
  } else if (request.method() != http::verb::get && request.method() != http::verb::head) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET, HEAD");
    response.body() = "GET /metrics\n";
  } else {
    response.result(http::status::ok);
    response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    if (auto collectable = metrics.lock()) {
      response.body() = prometheus::TextSerializer().Serialize(collectable->Collect());
    }
  }
  response.prepare_payload();
  // HEAD: the headers of a GET (Content-Length included), no body.
  if (request.method() == http::verb::head) response.body().clear();
  return response;
}

// One connection: read one request within the deadline, answer, close. Owns
// itself through the handlers' shared_ptr, on the server's one thread.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::weak_ptr<prometheus::Collectable> metrics)
      : stream_(std::move(socket)), metrics_(std::move(metrics)) {}

  void Run() {
    stream_.expires_after(kRequestDeadline);
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec) return;  // timed out, closed or malformed: dropped with the socket
    response_ = Answer(request_, metrics_);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  http::response<http::string_body> response_;
  const std::weak_ptr<prometheus::Collectable> metrics_;
};

}  // namespace

absl::Status CheckListenAddress(const std::string& address) { return ParseListenAddress(address).status(); }

struct MetricsEndpoint::Server {
  explicit Server(std::weak_ptr<prometheus::Collectable> m) : metrics(std::move(m)) {}

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;  // stopping
      if (!ec) std::make_shared<Session>(std::move(socket), metrics)->Run();
      Accept();
    });
  }

  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  const std::weak_ptr<prometheus::Collectable> metrics;
  int port = 0;
  std::thread thread;
};

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& address, std::weak_ptr<prometheus::Collectable> metrics) {
  auto parsed = ParseListenAddress(address);
  if (!parsed.ok()) return parsed.status();
  auto server = std::make_unique<Server>(std::move(metrics));
  const tcp::endpoint endpoint(parsed->ip, parsed->port);
  boost::system::error_code ec;
  server->acceptor.open(endpoint.protocol(), ec);
  // A restarted daemon rebinds at once despite connections in TIME_WAIT.
  if (!ec) server->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) server->acceptor.bind(endpoint, ec);
  if (!ec) server->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("--http-listen ", address, ": cannot listen: ", ec.message()));
  server->port = server->acceptor.local_endpoint().port();
  server->Accept();
  Server* s = server.get();
  server->thread = std::thread([s] { s->io.run(); });
  return std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(std::move(server)));
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<Server> server) : server_(std::move(server)) {}

MetricsEndpoint::~MetricsEndpoint() {
  // Then the acceptor closes, and open sessions go with the io_context.
  server_->io.stop();
  server_->thread.join();
}

int MetricsEndpoint::port() const { return server_->port; }

}  // namespace moe4::worker
