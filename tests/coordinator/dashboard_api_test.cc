// The dashboard's JSON API and its security over a real database: tokens and
// session cookies, roles, CSRF, security headers, pagination, bounded inputs,
// and Server-Sent Events on a change.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/coordinator/dashboard_fixture.h"

namespace moe4::coordinator {
namespace {

using json = nlohmann::json;

class DashboardApiTest : public DashboardFixture {
 protected:
  HttpResult Get(const std::string& path, const std::string& token = kReaderToken) {
    return HttpCall(port_, "GET", path, {{"Authorization", BearerValue(token)}});
  }
};

TEST_F(DashboardApiTest, EveryResponseCarriesAStrictPolicy) {
  for (const char* path : {"/", "/ui/app.js", "/api/v1/campaigns", "/api/v1/nope", "/healthz", "/nope"}) {
    HttpResult r = HttpCall(port_, "GET", path);
    const std::string csp = r.headers["content-security-policy"];
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << path;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << path;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << path;
    EXPECT_EQ(r.headers["x-content-type-options"], "nosniff") << path;
  }
  // The page has no inline script: every <script> loads a file.
  const std::string page = HttpCall(port_, "GET", "/").body;
  EXPECT_NE(page.find("<script src=\"/ui/app.js\""), std::string::npos);
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  EXPECT_EQ(page.find("style="), std::string::npos);
  // Chart.js is served from the binary, not a CDN.
  if (MOE4_UI_CHARTS) {
    EXPECT_NE(HttpCall(port_, "GET", "/ui/chart.js").body.find("Chart.js v3"), std::string::npos);
  }
}

TEST_F(DashboardApiTest, TokensAndSessions) {
  EXPECT_EQ(HttpCall(port_, "GET", "/api/v1/campaigns").status, 401);
  EXPECT_EQ(Get("/api/v1/campaigns", "wrong").status, 401);
  EXPECT_EQ(Get("/api/v1/campaigns", kWorkerToken).status, 401);
  EXPECT_EQ(Get("/api/v1/campaigns", kReaderToken).status, 200);
  EXPECT_EQ(Get("/api/v1/campaigns", kAdminToken).status, 200);

  // Sign-in: JSON only, worker and unknown tokens refused.
  EXPECT_EQ(HttpCall(port_, "POST", "/api/v1/session", {{"Content-Type", "application/x-www-form-urlencoded"}},
                     "token=" + std::string(kAdminToken)).status, 415);
  EXPECT_EQ(HttpCall(port_, "POST", "/api/v1/session", {{"Content-Type", "application/json"}},
                     absl::StrCat("{\"token\": \"", kWorkerToken, "\"}")).status, 403);
  EXPECT_EQ(HttpCall(port_, "POST", "/api/v1/session", {{"Content-Type", "application/json"}}, "{\"token\": \"x\"}").status,
            401);
  EXPECT_EQ(HttpCall(port_, "POST", "/api/v1/session", {{"Content-Type", "application/json"}}, "{not json").status, 400);

  HttpResult r = HttpCall(port_, "POST", "/api/v1/session", {{"Content-Type", "application/json"}},
                          absl::StrCat("{\"token\": \"", kReaderToken, "\"}"));
  ASSERT_EQ(r.status, 200);
  const std::string cookie = r.headers["set-cookie"];
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  const std::string session = cookie.substr(0, cookie.find(';'));
  EXPECT_EQ(json::parse(r.body)["role"], "reader");
  HttpResult who = HttpCall(port_, "GET", "/api/v1/session", {{"Cookie", session}});
  EXPECT_EQ(json::parse(who.body)["role"], "reader");
  EXPECT_EQ(HttpCall(port_, "GET", "/api/v1/campaigns", {{"Cookie", session}}).status, 200);
  EXPECT_EQ(HttpCall(port_, "GET", "/api/v1/campaigns", {{"Cookie", "moe4_session=" + std::string(64, 'a')}}).status,
            401);
  // Signing out needs the CSRF token too; afterwards the cookie is dead.
  const std::string csrf = json::parse(r.body)["csrf"];
  EXPECT_EQ(HttpCall(port_, "DELETE", "/api/v1/session", {{"Cookie", session}}).status, 403);
  EXPECT_EQ(HttpCall(port_, "DELETE", "/api/v1/session", {{"Cookie", session}, {"X-CSRF-Token", csrf}}).status, 200);
  EXPECT_EQ(HttpCall(port_, "GET", "/api/v1/campaigns", {{"Cookie", session}}).status, 401);
}

TEST_F(DashboardApiTest, OnlyAnAdminWithTheCsrfTokenChangesState) {
  Seed();
  const std::string path = absl::StrCat("/api/v1/campaigns/", campaign_id_, "/pause");
  std::string reader_csrf, admin_csrf;
  const std::string reader = SignIn(kReaderToken, &reader_csrf);
  const std::string admin = SignIn(kAdminToken, &admin_csrf);
  EXPECT_EQ(HttpCall(port_, "POST", path, {{"Cookie", reader}, {"X-CSRF-Token", reader_csrf}}).status, 403);
  EXPECT_EQ(HttpCall(port_, "POST", path, {{"Authorization", BearerValue(kReaderToken)}}).status, 403);
  EXPECT_EQ(HttpCall(port_, "POST", path, {{"Cookie", admin}}).status, 403);                           // no CSRF
  EXPECT_EQ(HttpCall(port_, "POST", path, {{"Cookie", admin}, {"X-CSRF-Token", reader_csrf}}).status, 403);
  EXPECT_EQ(HttpCall(port_, "POST", path, {{"Cookie", admin}, {"X-CSRF-Token", admin_csrf},
                                           {"Origin", "http://evil.example"}}).status, 403);
  EXPECT_EQ(Sql(absl::StrCat("SELECT state FROM campaigns WHERE id = ", campaign_id_)), "active");
  // GET never changes anything.
  EXPECT_EQ(HttpCall(port_, "GET", path, {{"Cookie", admin}, {"X-CSRF-Token", admin_csrf}}).status, 404);

  EXPECT_EQ(HttpCall(port_, "POST", path, {{"Cookie", admin}, {"X-CSRF-Token", admin_csrf}}).status, 200);
  EXPECT_EQ(Sql(absl::StrCat("SELECT state FROM campaigns WHERE id = ", campaign_id_)), "paused");
  // A script with the admin token needs no CSRF token (no cookie to ride on).
  EXPECT_EQ(HttpCall(port_, "POST", absl::StrCat("/api/v1/campaigns/", campaign_id_, "/resume"),
                     {{"Authorization", BearerValue(kAdminToken)}}).status, 200);
  EXPECT_EQ(Sql(absl::StrCat("SELECT state FROM campaigns WHERE id = ", campaign_id_)), "active");
  EXPECT_EQ(HttpCall(port_, "POST", "/api/v1/campaigns/999999/cancel",
                     {{"Authorization", BearerValue(kAdminToken)}}).status, 404);
}

TEST_F(DashboardApiTest, NumbersAreTheDatabases) {
  Seed();
  HttpResult r = Get("/api/v1/campaigns");
  ASSERT_EQ(r.status, 200) << r.body;
  json list = json::parse(r.body);
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["name"], "dash");
  EXPECT_EQ(list["items"][0]["succeeded"], 1);
  EXPECT_EQ(list["items"][0]["running"], 1);
  EXPECT_EQ(list["items"][0]["jobs"], 3);

  json c = json::parse(Get(absl::StrCat("/api/v1/campaigns/", campaign_id_)).body);
  EXPECT_EQ(c["epochs_done"], std::stoi(Sql("SELECT count(*) FROM epochs")));
  EXPECT_EQ(c["epochs_total"], 9);
  EXPECT_EQ(c["campaign"]["state"], "active");

  json lb = json::parse(Get(absl::StrCat("/api/v1/campaigns/", campaign_id_, "/leaderboard")).body);
  ASSERT_EQ(lb["items"].size(), 1u);
  EXPECT_EQ(lb["items"][0]["job_id"], job_a_);
  EXPECT_DOUBLE_EQ(lb["items"][0]["selected_test_accuracy"].get<double>(),
                   std::stod(Sql(absl::StrCat("SELECT selected_test_accuracy FROM jobs WHERE id = ", job_a_))));
  EXPECT_EQ(lb["items"][0]["n"], 1);
  EXPECT_TRUE(lb["items"][0]["selected_test_accuracy_sd"].is_null());  // NaN with one replicate

  json job = json::parse(Get(absl::StrCat("/api/v1/jobs/", job_a_)).body);
  EXPECT_EQ(job["job"]["state"], "succeeded");
  ASSERT_EQ(job["epochs"].size(), 3u);
  EXPECT_DOUBLE_EQ(job["epochs"][2]["test_accuracy"].get<double>(), 0.7);
  ASSERT_EQ(job["attempts"].size(), 1u);
  EXPECT_EQ(job["attempts"][0]["worker"], "gpu-box-1");
  EXPECT_EQ(job["attempts"][0]["outcome"], "succeeded");
  // Skipped image files (dataset.skip_bad_images) are the job's, never an epoch's.
  EXPECT_EQ(job["job"]["skipped_images"], json::object());
  EXPECT_FALSE(job["epochs"][0].contains("skipped_images")) << job["epochs"][0].dump();
  Sql(absl::StrCat("UPDATE jobs SET skipped_images = '{\"train/cat\": 2, \"test/dog\": 1}' WHERE id = ", job_a_,
                   " RETURNING 1"));
  json skipped = json::parse(Get(absl::StrCat("/api/v1/jobs/", job_a_)).body);
  EXPECT_EQ(skipped["job"]["skipped_images"], json({{"train/cat", 2}, {"test/dog", 1}}));

  json workers = json::parse(Get("/api/v1/workers").body);
  ASSERT_EQ(workers["items"].size(), 1u);
  EXPECT_EQ(workers["items"][0]["name"], "gpu-box-1");
  EXPECT_EQ(workers["items"][0]["state"], "busy");
  EXPECT_EQ(workers["items"][0]["current_job_id"], running_.job_id());
  EXPECT_EQ(workers["items"][0]["jobs_succeeded"], 1);

  json curves = json::parse(Get(absl::StrCat("/api/v1/campaigns/", campaign_id_, "/curves")).body);
  ASSERT_EQ(curves["items"].size(), 2u);  // the leader, then the running job
  EXPECT_EQ(curves["items"][0]["test_accuracy"].size(), 3u);
  EXPECT_EQ(curves["items"][1]["job_id"], running_.job_id());
  EXPECT_EQ(json::parse(Get(absl::StrCat("/api/v1/campaigns/", campaign_id_, "/families")).body)["items"].size(), 2u);
  EXPECT_EQ(json::parse(Get(absl::StrCat("/api/v1/campaigns/", campaign_id_, "/coverage")).body)["candidates"], 3);
}

TEST_F(DashboardApiTest, PagesAndBoundedInputs) {
  Seed();
  for (int i = 0; i < 4; ++i) {
    testing::SpecOptions spec;
    spec.name = "more" + std::to_string(i);
    spec.budget = 1;
    moe4::v1::SubmitResponse sub;
    ASSERT_TRUE(Submit(testing::SpecYaml(spec), false, &sub).ok());
  }
  // Five campaigns, two per page, newest first, each exactly once.
  std::vector<int64_t> seen;
  std::string cursor;
  for (int page = 0; page < 5; ++page) {
    json p = json::parse(Get("/api/v1/campaigns?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor)).body);
    for (const auto& c : p["items"]) seen.push_back(c["campaign_id"]);
    if (p["next_cursor"].is_null()) break;
    cursor = p["next_cursor"];
  }
  ASSERT_EQ(seen.size(), 5u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i - 1], seen[i]);
  // Jobs of a campaign by id.
  json jobs = json::parse(Get(absl::StrCat("/api/v1/campaigns/", campaign_id_, "/jobs?limit=2")).body);
  ASSERT_EQ(jobs["items"].size(), 2u);
  ASSERT_TRUE(jobs["next_cursor"].is_string());
  json rest = json::parse(
      Get(absl::StrCat("/api/v1/campaigns/", campaign_id_, "/jobs?limit=2&cursor=", jobs["next_cursor"].get<std::string>()))
          .body);
  ASSERT_EQ(rest["items"].size(), 1u);
  EXPECT_TRUE(rest["next_cursor"].is_null());
  EXPECT_EQ(json::parse(Get(absl::StrCat("/api/v1/campaigns/", campaign_id_, "/jobs?state=succeeded")).body)["items"].size(),
            1u);

  for (const std::string& bad : std::vector<std::string>{"/api/v1/campaigns?limit=0", "/api/v1/campaigns?limit=501", "/api/v1/campaigns?limit=abc",
        "/api/v1/campaigns?cursor=-1", "/api/v1/campaigns?cursor=1%27%20OR%201=1", "/api/v1/campaigns/abc",
        "/api/v1/campaigns/0", "/api/v1/campaigns/99999999999999999999", "/api/v1/jobs/1;DROP",
        absl::StrCat("/api/v1/campaigns/", campaign_id_, "/jobs?state=bogus"),
        absl::StrCat("/api/v1/campaigns/", campaign_id_, "/leaderboard?by=best"),
        absl::StrCat("/api/v1/campaigns/", campaign_id_, "/leaderboard?top=1000")}) {
    EXPECT_EQ(Get(bad).status, 400) << bad;
  }
  EXPECT_EQ(Get("/api/v1/campaigns/424242").status, 404);
  EXPECT_EQ(Get("/api/v1/jobs/424242").status, 404);
  // Bodies are bounded.
  EXPECT_EQ(HttpCall(port_, "POST", "/api/v1/session", {{"Content-Type", "application/json"}},
                     std::string(64 * 1024, 'x')).status, 413);
}

// An open /api/v1/events stream read with a 10 s timeout per read.
class EventStream {
 public:
  EventStream(int port, const std::string& token) : socket_(io_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    const std::string req = absl::StrCat("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ",
                                         BearerValue(token), "\r\n\r\n");
    boost::asio::write(socket_, boost::asio::buffer(req));
    timeval tv{10, 0};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  // Reads until `what` has arrived at or after offset `from` of what was
  // read so far (false on timeout or close).
  bool ReadUntil(const std::string& what, size_t from = 0) {
    char buf[4096];
    while (got_.find(what, from) == std::string::npos) {
      boost::system::error_code ec;
      const size_t n = socket_.read_some(boost::asio::buffer(buf), ec);
      if (ec) return false;
      got_.append(buf, n);
    }
    return true;
  }
  const std::string& got() const { return got_; }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::string got_;
};

// An open event stream hears "change" after an epoch is stored, and costs no
// thread: the server counts it as a stream on its io thread.
TEST_F(DashboardApiTest, EventStreamTellsOfAChange) {
  Seed();
  EventStream stream(port_, kReaderToken);
  ASSERT_TRUE(stream.ReadUntil("event: hello")) << stream.got();
  EXPECT_NE(stream.got().find("text/event-stream"), std::string::npos);
  EXPECT_NE(stream.got().find("Content-Security-Policy"), std::string::npos);
  // The feed's first poll with a stream open announces a change: whatever
  // changed since the page read its data is in it. Then change something.
  ASSERT_TRUE(stream.ReadUntil("event: change")) << stream.got();
  const size_t seen = stream.got().size();
  ASSERT_TRUE(ReportEpoch(worker_id_, running_, 2, 0.55).ok());
  EXPECT_TRUE(stream.ReadUntil("event: change", seen)) << stream.got();
  // Without a token, no stream.
  EXPECT_EQ(HttpCall(port_, "GET", "/api/v1/events").status, 401);
}

// The feed never polls within the test: the change event can only come from
// the database's notification, and it names the campaign.
class NotifiedDashboardTest : public DashboardApiTest {
 protected:
  void Adjust(CoordinatorOptions& o) override {
    o.ui_feed_poll = absl::Seconds(120);
    o.watch_resync = absl::Seconds(120);
    o.ui_cache.max_age = absl::Hours(1);  // cached answers only go stale by notification
  }
};

TEST_F(NotifiedDashboardTest, AFinishedJobReachesTheEventStreamByNotification) {
  Seed();
  EventStream stream(port_, kReaderToken);
  ASSERT_TRUE(stream.ReadUntil("event: hello")) << stream.got();
  const auto reported = std::chrono::steady_clock::now();
  ASSERT_TRUE(ReportEpoch(worker_id_, running_, 2, 0.55).ok());
  ASSERT_TRUE(ReportEpoch(worker_id_, running_, 3, 0.6).ok());
  ASSERT_TRUE(CompleteJob(worker_id_, running_, 0.6).ok());
  ASSERT_TRUE(stream.ReadUntil(absl::StrCat("\"campaigns\":[", running_.campaign_id(), "]")))
      << stream.got();
  EXPECT_LT(std::chrono::steady_clock::now() - reported, std::chrono::seconds(5));
  EXPECT_NE(stream.got().find("event: change"), std::string::npos) << stream.got();
}

// The campaign's summaries come from the dashboard's cache: a job finishing
// reaches them through the database's notification (no poll, no age limit
// here), and a reader then gets the new numbers without waiting for one.
TEST_F(NotifiedDashboardTest, CachedSummariesFollowNotifications) {
  Seed();
  const std::string leaderboard = absl::StrCat("/api/v1/campaigns/", campaign_id_, "/leaderboard");
  const std::string campaign = absl::StrCat("/api/v1/campaigns/", campaign_id_);
  ASSERT_EQ(json::parse(Get(leaderboard).body)["items"].size(), 1u);
  ASSERT_EQ(json::parse(Get(campaign).body)["campaign"]["succeeded"], 1);
  ASSERT_EQ(json::parse(Get(campaign).body)["campaign"]["succeeded"], 1);  // now from the cache
  ASSERT_TRUE(ReportEpoch(worker_id_, running_, 2, 0.55).ok());
  ASSERT_TRUE(ReportEpoch(worker_id_, running_, 3, 0.6).ok());
  ASSERT_TRUE(CompleteJob(worker_id_, running_, 0.6).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  size_t entries = 0;
  int succeeded = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    entries = json::parse(Get(leaderboard).body)["items"].size();
    succeeded = json::parse(Get(campaign).body)["campaign"]["succeeded"].get<int>();
    if (entries == 2 && succeeded == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(entries, 2u) << "the finished job never reached the cached leaderboard";
  EXPECT_EQ(succeeded, 2);
}

// An admin's own action shows in the very next read, cached or not: the
// dashboard marks the campaign changed itself instead of waiting for the
// notification.
TEST_F(NotifiedDashboardTest, AnAdminSeesItsOwnActionAtOnce) {
  Seed();
  const std::string campaign = absl::StrCat("/api/v1/campaigns/", campaign_id_);
  ASSERT_EQ(json::parse(Get(campaign).body)["campaign"]["state"], "active");
  ASSERT_EQ(json::parse(Get("/api/v1/campaigns").body)["items"][0]["state"], "active");
  for (const char* action : {"pause", "resume", "cancel"}) {
    ASSERT_EQ(HttpCall(port_, "POST", absl::StrCat(campaign, "/", action),
                       {{"Authorization", BearerValue(kAdminToken)}}).status, 200) << action;
    const std::string want = std::string(action) == "pause" ? "paused" : action == std::string("resume") ? "active"
                                                                                                        : "cancelled";
    EXPECT_EQ(json::parse(Get(campaign).body)["campaign"]["state"], want) << action;
    EXPECT_EQ(json::parse(Get("/api/v1/campaigns").body)["items"][0]["state"], want) << action;
  }
}

}  // namespace
}  // namespace moe4::coordinator
