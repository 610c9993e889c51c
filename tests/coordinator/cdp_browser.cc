#include "tests/coordinator/cdp_browser.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace moe4::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;
using json = nlohmann::json;

struct CdpBrowser::Impl {
  pid_t pid = -1;
  std::string profile;
  int port = 0;
  boost::asio::io_context io;
  std::unique_ptr<websocket::stream<tcp::socket>> ws;
  int next_id = 1;
  bool loaded = false;  // Page.loadEventFired seen since the last Navigate
};

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// GET http://127.0.0.1:port/path.
absl::StatusOr<std::string> HttpGetLocal(int port, const std::string& path) {
  try {
    boost::asio::io_context io;
    tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    http::request<http::empty_body> req{http::verb::get, path, 11};
    req.set(http::field::host, absl::StrCat("127.0.0.1:", port));
    http::write(socket, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(socket, buf, res);
    return res.body();
  } catch (const std::exception& e) {
    return absl::UnavailableError(e.what());
  }
}

}  // namespace

CdpBrowser::CdpBrowser(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CdpBrowser::~CdpBrowser() {
  if (impl_->ws) {
    beast::error_code ignored;
    impl_->ws->next_layer().close(ignored);
  }
  if (impl_->pid > 0) {
    kill(impl_->pid, SIGKILL);
    waitpid(impl_->pid, nullptr, 0);
  }
  if (!impl_->profile.empty()) std::system(absl::StrCat("rm -rf '", impl_->profile, "'").c_str());
}

absl::StatusOr<std::unique_ptr<CdpBrowser>> CdpBrowser::Launch(int width, int height) {
  auto impl = std::make_unique<Impl>();
  std::string pattern = absl::StrCat(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp", "/moe4-cdp-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  impl->profile = pattern;
  const char* env = std::getenv("MOE4_CHROMIUM");
  const std::string chromium = env && *env ? env : "chromium";
  std::vector<std::string> args = {chromium,
                                   "--headless",
                                   "--no-sandbox",  // tests run as root in CI
                                   "--disable-gpu",
                                   "--disable-dev-shm-usage",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--hide-scrollbars",
                                   "--remote-debugging-address=127.0.0.1",
                                   "--remote-debugging-port=0",
                                   absl::StrCat("--window-size=", width, ",", height),
                                   absl::StrCat("--user-data-dir=", impl->profile),
                                   "about:blank"};
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  impl->pid = pid;
  std::unique_ptr<CdpBrowser> browser(new CdpBrowser(std::move(impl)));
  Impl& b = *browser->impl_;

  // The browser writes its port to DevToolsActivePort once it listens.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (b.port == 0) {
    int status = 0;
    if (waitpid(b.pid, &status, WNOHANG) == b.pid) {
      b.pid = -1;
      return absl::FailedPreconditionError(absl::StrCat(
          chromium, " exited at once (status ", status, "): install Debian's chromium (deploy/install-deps.sh does)"));
    }
    std::istringstream active(ReadAll(b.profile + "/DevToolsActivePort"));
    int port = 0;
    if (active >> port && port > 0) b.port = port;
    if (b.port == 0) {
      if (std::chrono::steady_clock::now() > give_up) return absl::DeadlineExceededError("chromium did not start");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  // The first page target.
  std::string ws_path;
  while (ws_path.empty()) {
    auto list = HttpGetLocal(b.port, "/json/list");
    if (list.ok()) {
      try {
        for (const auto& t : json::parse(*list)) {
          if (t.value("type", "") == "page") {
            const std::string url = t.value("webSocketDebuggerUrl", "");
            ws_path = url.substr(url.find('/', url.find("://") + 3));
            break;
          }
        }
      } catch (const json::exception&) {
      }
    }
    if (ws_path.empty()) {
      if (std::chrono::steady_clock::now() > give_up) return absl::DeadlineExceededError("no page target");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  try {
    b.ws = std::make_unique<websocket::stream<tcp::socket>>(b.io);
    b.ws->next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(b.port)});
    // A browser that hangs fails the read instead of the whole test run.
    timeval tv{60, 0};
    setsockopt(b.ws->next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    b.ws->read_message_max(256 * 1024 * 1024);
    b.ws->handshake(absl::StrCat("127.0.0.1:", b.port), ws_path);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("DevTools WebSocket: ", e.what()));
  }
  if (auto r = browser->Call("Page.enable", json::object()); !r.ok()) return r.status();
  if (auto r = browser->Call("Runtime.enable", json::object()); !r.ok()) return r.status();
  return browser;
}

absl::StatusOr<json> CdpBrowser::Call(const std::string& method, json params) {
  Impl& b = *impl_;
  const int id = b.next_id++;
  try {
    b.ws->text(true);
    b.ws->write(boost::asio::buffer(json{{"id", id}, {"method", method}, {"params", std::move(params)}}.dump()));
    for (;;) {
      beast::flat_buffer buf;
      b.ws->read(buf);
      const json msg = json::parse(beast::buffers_to_string(buf.data()));
      if (msg.value("method", "") == "Page.loadEventFired") b.loaded = true;
      if (!msg.contains("id") || msg["id"] != id) continue;
      if (msg.contains("error")) return absl::InternalError(absl::StrCat(method, ": ", msg["error"].dump()));
      return msg.value("result", json::object());
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(method, ": ", e.what()));
  }
}

absl::Status CdpBrowser::Navigate(const std::string& url) {
  impl_->loaded = false;
  auto r = Call("Page.navigate", json{{"url", url}});
  if (!r.ok()) return r.status();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!impl_->loaded) {
    if (std::chrono::steady_clock::now() > give_up) return absl::DeadlineExceededError("page did not load");
    // Any call pumps the event queue.
    if (auto e = Eval("1"); !e.ok()) return e.status();
    if (!impl_->loaded) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::OkStatus();
}

absl::StatusOr<json> CdpBrowser::Eval(const std::string& expression) {
  auto r = Call("Runtime.evaluate",
                json{{"expression", expression}, {"returnByValue", true}, {"awaitPromise", true}});
  if (!r.ok()) return r.status();
  if (r->contains("exceptionDetails")) {
    return absl::InvalidArgumentError(absl::StrCat(expression, " threw: ", (*r)["exceptionDetails"].dump()));
  }
  const json& result = (*r)["result"];
  return result.contains("value") ? result["value"] : json(nullptr);
}

bool CdpBrowser::WaitFor(const std::string& expression, std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto v = Eval(absl::StrCat("!!(", expression, ")"));
    if (v.ok() && v->is_boolean() && v->get<bool>()) return true;
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

absl::StatusOr<std::string> CdpBrowser::Screenshot() {
  auto metrics = Call("Page.getLayoutMetrics", json::object());
  if (!metrics.ok()) return metrics.status();
  const json size = (*metrics).value("cssContentSize", json::object());
  const double w = size.value("width", 1400.0), h = size.value("height", 1000.0);
  auto r = Call("Page.captureScreenshot",
                json{{"format", "png"},
                     {"captureBeyondViewport", true},
                     {"clip", {{"x", 0}, {"y", 0}, {"width", w}, {"height", h}, {"scale", 1}}}});
  if (!r.ok()) return r.status();
  std::string png;
  if (!absl::Base64Unescape(r->value("data", ""), &png)) return absl::InternalError("screenshot: bad base64");
  return png;
}

absl::Status CdpBrowser::ClearCookies() {
  auto r = Call("Network.clearBrowserCookies", json::object());
  return r.status();
}

}  // namespace moe4::testing
