#include "coordinator/http/http_server.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <chrono>
#include <deque>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr auto kIoTimeout = std::chrono::seconds(10);
constexpr size_t kMaxHeaderBytes = 16 * 1024;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Calls f(name, value) for each "name=value" of a '&'-separated query until f
// returns true.
template <typename F>
void ForEachParam(std::string_view query, F f) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = part.find('=');
    std::string_view name = part.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    if (f(PercentDecode(name), value)) return;
  }
}

std::string_view StripSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return "";
}

std::string HttpRequest::Query(std::string_view name) const {
  std::string out;
  ForEachParam(query, [&](const std::string& n, std::string_view v) {
    if (n != name) return false;
    out = PercentDecode(v);
    return true;
  });
  return out;
}

bool HttpRequest::HasQuery(std::string_view name) const {
  bool found = false;
  ForEachParam(query, [&](const std::string& n, std::string_view) { return found = (n == name); });
  return found;
}

std::string HttpRequest::Cookie(std::string_view name) const {
  for (const auto& [header, value] : headers) {
    if (header != "cookie") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      std::string_view part = StripSpaces(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const size_t eq = part.find('=');
      if (eq != std::string_view::npos && part.substr(0, eq) == name) {
        return std::string(part.substr(eq + 1));
      }
    }
  }
  return "";
}

// One connection: reads a request, answers it, closes; or, for an event
// stream, stays open and writes queued events in order. Keeps itself alive
// through its pending operations. Touched on the io thread only (the blocking
// handler runs elsewhere but posts its response back).
class HttpServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, HttpServer& server) : stream_(std::move(socket)), server_(server) {}

  void Run() {
    parser_.header_limit(kMaxHeaderBytes);
    parser_.body_limit(server_.options_.max_body_bytes);
    stream_.expires_after(kIoTimeout);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  // Queues one event-stream frame; drops a client that is too far behind.
  void Send(const std::shared_ptr<const std::string>& frame) {
    if (closed_) return;
    if (queue_.size() >= server_.options_.max_queued_events) {
      Close();
      return;
    }
    queue_.push_back(frame);
    if (queue_.size() == 1) WriteNext();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    if (server_.streams_.erase(shared_from_this()) > 0) server_.event_streams_--;
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      Respond(HttpResponse::Text(413, "request body too large\n"));
      return;
    }
    if (ec) return;  // timeout, reset, garbage: just drop the connection
    auto& msg = parser_.get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    std::string_view target(msg.target().data(), msg.target().size());
    const size_t q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    for (const auto& field : msg) {
      req.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())),
                               std::string(field.value()));
    }
    req.body = std::move(msg.body());
    version_ = msg.version();
    const RouteEntry* route = server_.Find(req.path);
    if (route == nullptr) {
      Respond(HttpResponse::Text(404, "not found\n"));
      return;
    }
    if (route->mode == Mode::kInline) {
      Respond(Call(*route, req));
      return;
    }
    stream_.expires_never();  // the handler may take a while; the write sets a new deadline
    boost::asio::post(server_.pool_, [self = shared_from_this(), route, req = std::move(req)] {
      HttpResponse r = Call(*route, req);
      boost::asio::post(self->server_.io_, [self, r = std::move(r)]() mutable { self->Respond(std::move(r)); });
    });
  }

  static HttpResponse Call(const RouteEntry& route, const HttpRequest& req) {
    try {
      return route.handler(req);
    } catch (const std::exception& e) {
      spdlog::warn("http {} {}: {}", req.method, req.path, e.what());
      return HttpResponse::Text(500, "internal error\n");
    }
  }

  void Respond(HttpResponse r) {
    if (closed_) return;
    if (r.event_stream && r.status == 200) {
      StartStream(std::move(r));
      return;
    }
    res_.version(version_);
    res_.result(static_cast<http::status>(r.status));
    res_.set(http::field::server, "moe4-coordinator");
    res_.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : server_.options_.default_headers) res_.set(name, value);
    for (const auto& [name, value] : r.headers) res_.insert(name, value);
    res_.keep_alive(false);
    res_.body() = std::move(r.body);
    res_.prepare_payload();
    stream_.expires_after(kIoTimeout);
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  // Writes the head by hand (no Content-Length: the body ends when the
  // connection does) and joins the server's streams.
  void StartStream(HttpResponse r) {
    if (server_.event_streams_.load() >= server_.options_.max_event_streams) {
      Respond(HttpResponse::Text(503, "too many event streams\n"));
      return;
    }
    stream_.expires_never();
    std::string head = absl::StrCat("HTTP/1.1 200 OK\r\nServer: moe4-coordinator\r\n",
                                    "Content-Type: text/event-stream; charset=utf-8\r\n",
                                    "Cache-Control: no-store\r\nConnection: close\r\n");
    for (const auto& [name, value] : server_.options_.default_headers) {
      absl::StrAppend(&head, name, ": ", value, "\r\n");
    }
    for (const auto& [name, value] : r.headers) absl::StrAppend(&head, name, ": ", value, "\r\n");
    absl::StrAppend(&head, "\r\n", r.body);  // the body: a first event, if any
    server_.streams_.insert(shared_from_this());
    server_.event_streams_++;
    Send(std::make_shared<const std::string>(std::move(head)));
    // The client sends nothing more: a read that ends means it went away
    // (and data after the request is a protocol error, dropped all the same).
    stream_.socket().async_read_some(boost::asio::buffer(discard_),
                                     [self = shared_from_this()](beast::error_code, size_t) { self->Close(); });
  }

  void WriteNext() {
    boost::asio::async_write(stream_.socket(), boost::asio::buffer(*queue_.front()),
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) {
                                 self->Close();
                                 return;
                               }
                               self->queue_.pop_front();
                               if (!self->queue_.empty() && !self->closed_) self->WriteNext();
                             });
  }

  beast::tcp_stream stream_;
  HttpServer& server_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> res_;
  unsigned version_ = 11;
  bool closed_ = false;
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::array<char, 64> discard_{};
};

HttpServer::HttpServer(HttpServerOptions options)
    : options_(std::move(options)),
      io_(1),
      acceptor_(io_),
      keepalive_timer_(io_),
      pool_(static_cast<size_t>(std::max(1, options_.handler_threads))) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(std::string path, Mode mode, Handler handler) {
  routes_.push_back(RouteEntry{std::move(path), mode, std::move(handler)});
}

const HttpServer::RouteEntry* HttpServer::Find(std::string_view path) const {
  const RouteEntry* best = nullptr;
  for (const auto& r : routes_) {
    const bool prefix = !r.path.empty() && r.path.back() == '/';
    const bool match = prefix ? path.substr(0, r.path.size()) == r.path : path == r.path;
    if (match && (best == nullptr || r.path.size() > best->path.size())) best = &r;
  }
  return best;
}

absl::Status HttpServer::Start(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http-listen: expected host:port, got \"", listen, "\""));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http-listen: \"", host, "\" is not an IP address"));
  }
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, ": ", ec.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  Accept();
  Keepalive();
  thread_ = std::thread([this] { io_.run(); });
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  // Handlers already running finish (their answers are dropped); queued ones never run.
  pool_.stop();
  pool_.join();
  boost::asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    keepalive_timer_.cancel();
    for (auto it = streams_.begin(); it != streams_.end();) (*it++)->Close();
    io_.stop();
  });
  thread_.join();
}

void HttpServer::Publish(std::string_view event, std::string_view data) {
  // One frame per event; a data line may not contain a newline.
  std::string frame = absl::StrCat("event: ", std::string(event), "\n");
  size_t start = 0;
  while (start <= data.size()) {
    const size_t nl = data.find('\n', start);
    absl::StrAppend(&frame, "data: ",
                    std::string(data.substr(start, nl == std::string_view::npos ? nl : nl - start)), "\n");
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  frame += "\n";
  auto shared = std::make_shared<const std::string>(std::move(frame));
  boost::asio::post(io_, [this, shared] { Broadcast(shared); });
}

void HttpServer::Broadcast(const std::shared_ptr<const std::string>& frame) {
  // Send may close (and erase) the stream: iterate over a copy.
  const std::vector<std::shared_ptr<Connection>> streams(streams_.begin(), streams_.end());
  for (const auto& s : streams) s->Send(frame);
}

void HttpServer::Keepalive() {
  keepalive_timer_.expires_after(absl::ToChronoMilliseconds(options_.keepalive));
  keepalive_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    static const auto kComment = std::make_shared<const std::string>(": keepalive\n\n");
    Broadcast(kComment);
    Keepalive();
  });
}

void HttpServer::Accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Connection>(std::move(socket), *this)->Run();
    if (acceptor_.is_open()) Accept();
  });
}

}  // namespace moe4::coordinator
