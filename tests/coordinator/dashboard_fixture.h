// A coordinator with --ui over a fresh database, an HTTP client that sees
// headers and sends bodies, and a small campaign with real results (one job
// succeeded, one running). Not thread-safe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <string>
#include <vector>

#include "tests/coordinator/service_fixture.h"

namespace moe4::coordinator {

inline constexpr char kReaderToken[] = "reader-token-for-tests";

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; the last of each
  std::string body;
};

inline HttpResult HttpCall(int port, const std::string& method, const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& headers = {},
                           const std::string& body = "") {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  http::request<http::string_body> req{http::string_to_verb(method), path, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(socket, buf, res);
  HttpResult out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = res.body();
  return out;
}

class DashboardFixture : public ServiceFixture {
 protected:
  void SetUp() override {
    ServiceFixture::SetUp();
    if (HasFatalFailure()) return;
    server_.reset();
    CoordinatorOptions o = Options();
    o.ui = true;
    o.reader_token = kReaderToken;
    o.ui_feed_poll = absl::Milliseconds(200);
    Adjust(o);
    auto s = CoordinatorServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    Connect();
    port_ = server_->http_port();
  }

  // A test's own options, over the defaults above.
  virtual void Adjust(CoordinatorOptions& /*o*/) {}

  // Campaign "dash" (3 combinations, 3 epochs): job A succeeded with test
  // accuracy 0.5, 0.6, 0.7 (selected: epoch 3), job B running with one epoch.
  void Seed() {
    testing::SpecOptions spec;
    spec.name = "dash";
    spec.budget = 3;
    spec.epochs = 3;
    moe4::v1::SubmitResponse sub;
    ASSERT_TRUE(Submit(testing::SpecYaml(spec), false, &sub).ok());
    campaign_id_ = sub.campaign_id();
    worker_id_ = Register("gpu-box-1");
    moe4::v1::LeaseResponse a;
    ASSERT_TRUE(Lease(worker_id_, &a).ok());
    ASSERT_TRUE(a.has_job());
    for (int e = 1; e <= 3; ++e) ASSERT_TRUE(ReportEpoch(worker_id_, a.job(), e, 0.4 + 0.1 * e).ok());
    ASSERT_TRUE(CompleteJob(worker_id_, a.job(), 0.7).ok());
    job_a_ = a.job().job_id();
    moe4::v1::LeaseResponse b;
    ASSERT_TRUE(Lease(worker_id_, &b).ok());
    ASSERT_TRUE(b.has_job());
    running_ = b.job();
    ASSERT_TRUE(ReportEpoch(worker_id_, running_, 1, 0.45).ok());
  }

  // Signs in with `token`; returns the cookie ("moe4_session=...") and sets csrf.
  std::string SignIn(const std::string& token, std::string* csrf = nullptr) {
    HttpResult r = HttpCall(port_, "POST", "/api/v1/session", {{"Content-Type", "application/json"}},
                            "{\"token\": \"" + token + "\"}");
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string set = r.headers["set-cookie"];
    if (csrf) {
      const size_t at = r.body.find("\"csrf\":\"");
      *csrf = at == std::string::npos ? "" : r.body.substr(at + 8, 64);
    }
    return set.substr(0, set.find(';'));
  }

  std::string Sql(const std::string& sql) { return testing::QueryOne(db_.url(), sql); }

  int port_ = 0;
  int64_t campaign_id_ = 0;
  int64_t worker_id_ = 0;
  int64_t job_a_ = 0;
  moe4::v1::JobAssignment running_;
};

}  // namespace moe4::coordinator
