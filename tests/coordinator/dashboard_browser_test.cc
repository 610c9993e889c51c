// The dashboard in a real browser (headless Chromium over the DevTools
// protocol): what a person sees after signing in. A coordinator with --ui
// over a fresh database; a worker simulated over gRPC reports epochs.
//
// With MOE4_SCREENSHOT_DIR set, writes campaigns.png, campaign.png, job.png
// and workers.png there (deploy/screenshots.sh).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/coordinator/cdp_browser.h"
#include "tests/coordinator/dashboard_fixture.h"

namespace moe4::coordinator {
namespace {

using moe4::testing::CdpBrowser;

std::string Pct(double x) { return absl::StrFormat("%.1f%%", 100 * x); }

// A JavaScript string literal.
std::string Js(const std::string& s) { return nlohmann::json(s).dump(); }

class DashboardBrowserTest : public DashboardFixture {
 protected:
  void SetUp() override {
    DashboardFixture::SetUp();
    if (HasFatalFailure()) return;
    auto b = CdpBrowser::Launch();
    ASSERT_TRUE(b.ok()) << b.status();
    browser_ = std::move(*b);
    base_ = absl::StrCat("http://127.0.0.1:", port_, "/");
  }
  void TearDown() override {
    browser_.reset();
    DashboardFixture::TearDown();
  }

  // Opens the dashboard and signs in through its form.
  void SignInAs(const std::string& token) {
    ASSERT_TRUE(browser_->ClearCookies().ok());
    ASSERT_TRUE(browser_->Navigate(base_).ok());
    ASSERT_TRUE(browser_->WaitFor("document.querySelector('#signin')")) << "no sign-in form";
    ASSERT_TRUE(browser_->Eval(absl::StrCat("document.querySelector('#token').value = ", Js(token),
                                            "; document.querySelector('#signin button').click(); 1"))
                    .ok());
    ASSERT_TRUE(browser_->WaitFor("document.body.dataset.view === 'campaigns'"))
        << Text("#main");
  }

  // Goes to a hash route and waits until that view has rendered after it.
  void Open(const std::string& hash, const std::string& view) {
    const int before = Renders();
    ASSERT_TRUE(browser_->Eval(absl::StrCat("location.hash = ", Js(hash), "; 1")).ok());
    ASSERT_TRUE(browser_->WaitFor(absl::StrCat("document.body.dataset.view === ", Js(view),
                                               " && Number(document.body.dataset.renders) > ", before)))
        << hash << ": " << Text("#main");
  }

  int Renders() {
    auto v = browser_->Eval("Number(document.body.dataset.renders || 0)");
    return v.ok() && v->is_number() ? v->get<int>() : 0;
  }

  std::string Text(const std::string& selector) {
    auto v = browser_->Eval(absl::StrCat("(document.querySelector(", Js(selector), ") || {}).textContent || ''"));
    return v.ok() && v->is_string() ? v->get<std::string>() : "";
  }

  void Shot(const std::string& name) {
    const char* dir = std::getenv("MOE4_SCREENSHOT_DIR");
    if (dir == nullptr || *dir == '\0') return;
    (void)browser_->Eval("new Promise(r => setTimeout(r, 300))");  // let charts finish drawing
    auto png = browser_->Screenshot();
    ASSERT_TRUE(png.ok()) << png.status();
    std::ofstream(absl::StrCat(dir, "/", name, ".png"), std::ios::binary) << *png;
  }

  // True once the canvas has a pixel that is not transparent.
  bool Drawn(const std::string& selector) {
    return browser_->WaitFor(absl::StrCat(
        "(() => { const c = document.querySelector(", Js(selector), "); if (!c || !c.width) return false;",
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;",
        " for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false; })()"));
  }

  std::unique_ptr<CdpBrowser> browser_;
  std::string base_;
};

TEST_F(DashboardBrowserTest, AdminSeesTheDatabasesNumbersAndLiveEpochs) {
  Seed();
  SignInAs(kAdminToken);
  // Campaigns: the campaign and its counts as the database has them.
  EXPECT_EQ(Text(absl::StrCat("#campaigns tr[data-campaign-id='", campaign_id_, "'] .campaign-name")), "dash");
  EXPECT_EQ(Text(absl::StrCat("#campaigns tr[data-campaign-id='", campaign_id_, "'] .succeeded")),
            absl::StrCat(Sql("SELECT count(*) FROM jobs WHERE state = 'succeeded'"), " / ",
                         Sql("SELECT count(*) FROM jobs")));
  Shot("campaigns");

  Open(absl::StrCat("#/campaign/", campaign_id_), "campaign");
  const double selected =
      std::stod(Sql(absl::StrCat("SELECT selected_test_accuracy FROM jobs WHERE id = ", job_a_)));
  EXPECT_EQ(Text(absl::StrCat("#leaderboard tr[data-job-id='", job_a_, "'] .selected")), Pct(selected));
  EXPECT_EQ(Text("#epochs-done"),
            absl::StrCat(Sql("SELECT count(*) FROM epochs"), " / 9"));
  EXPECT_TRUE(browser_->WaitFor("document.querySelector('#cancel')")) << "an admin has a cancel button";
  EXPECT_TRUE(Drawn("#curves")) << "the learning curves were not drawn";
  Shot("campaign");

  // The running job's page gets a new epoch without a reload.
  Open(absl::StrCat("#/job/", running_.job_id()), "job");
  EXPECT_TRUE(browser_->WaitFor("document.querySelectorAll('#epochs tbody tr').length === 1"));
  ASSERT_TRUE(browser_->Eval("window.__sameDocument = 'yes'; 1").ok());
  ASSERT_TRUE(ReportEpoch(worker_id_, running_, 2, 0.55).ok());
  EXPECT_TRUE(browser_->WaitFor("document.querySelector(\"#epochs tr[data-epoch='2']\")",
                                std::chrono::seconds(15)))
      << "epoch 2 did not appear: " << Text("#epochs");
  EXPECT_EQ(Text("#epochs tr[data-epoch='2'] .test-accuracy"), Pct(0.55));
  auto same = browser_->Eval("window.__sameDocument || ''");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, "yes") << "the page reloaded";
  EXPECT_TRUE(Drawn("#job-accuracy")) << "the job's curves were not drawn";
  Shot("job");

  Open("#/workers", "workers");
  EXPECT_NE(Text("#workers").find("gpu-box-1"), std::string::npos);
  Shot("workers");

  // Nothing on any page broke the Content-Security-Policy.
  auto violations = browser_->Eval("document.body.dataset.cspViolations || '0'");
  ASSERT_TRUE(violations.ok());
  EXPECT_EQ(*violations, "0") << browser_->Eval("document.body.dataset.cspLast || ''")->dump();
}

TEST_F(DashboardBrowserTest, AReaderCannotCancel) {
  Seed();
  SignInAs(kReaderToken);
  Open(absl::StrCat("#/campaign/", campaign_id_), "campaign");
  EXPECT_NE(Text("#leaderboard").size(), 0u);
  auto buttons = browser_->Eval("document.querySelectorAll('#cancel, #pause, #admin-actions').length");
  ASSERT_TRUE(buttons.ok());
  EXPECT_EQ(*buttons, 0) << "a reader sees admin buttons";
  // A forged cancel from the reader's page, with and without a CSRF token.
  const std::string cancel = absl::StrCat("/api/v1/campaigns/", campaign_id_, "/cancel");
  auto forged = browser_->Eval(absl::StrCat("fetch(", Js(cancel), ", {method: 'POST'}).then(r => r.status)"));
  ASSERT_TRUE(forged.ok()) << forged.status();
  EXPECT_EQ(*forged, 403);
  auto with_csrf = browser_->Eval(absl::StrCat(
      "fetch('/api/v1/session').then(r => r.json()).then(s => fetch(", Js(cancel),
      ", {method: 'POST', headers: {'X-CSRF-Token': s.csrf}})).then(r => r.status)"));
  ASSERT_TRUE(with_csrf.ok()) << with_csrf.status();
  EXPECT_EQ(*with_csrf, 403);
  EXPECT_EQ(Sql(absl::StrCat("SELECT state FROM campaigns WHERE id = ", campaign_id_)), "active");

  // An admin's cookie without the CSRF header is refused too.
  SignInAs(kAdminToken);
  auto no_csrf = browser_->Eval(absl::StrCat("fetch(", Js(cancel), ", {method: 'POST'}).then(r => r.status)"));
  ASSERT_TRUE(no_csrf.ok());
  EXPECT_EQ(*no_csrf, 403);
  EXPECT_EQ(Sql(absl::StrCat("SELECT state FROM campaigns WHERE id = ", campaign_id_)), "active");
}

TEST_F(DashboardBrowserTest, MarkupFromTheDatabaseIsText) {
  Seed();
  const std::string evil_family = "<script>window.__pwned = 1</script>";
  const std::string evil_name = "<img src=x onerror=\"window.__pwned = 2\">";
  Sql(absl::StrCat("UPDATE jobs SET families[1] = '", evil_family, "' WHERE id = ", job_a_, " RETURNING 1"));
  Sql(absl::StrCat("UPDATE campaigns SET name = '", evil_name, "' WHERE id = ", campaign_id_, " RETURNING 1"));
  SignInAs(kAdminToken);
  EXPECT_EQ(Text(absl::StrCat("#campaigns tr[data-campaign-id='", campaign_id_, "'] .campaign-name")), evil_name);
  Open(absl::StrCat("#/campaign/", campaign_id_), "campaign");
  EXPECT_NE(Text(absl::StrCat("#leaderboard tr[data-job-id='", job_a_, "'] .families")).find(evil_family),
            std::string::npos)
      << Text("#leaderboard");
  EXPECT_EQ(Text("#campaign-title"), evil_name);
  EXPECT_TRUE(browser_->WaitFor(absl::StrCat("[...document.querySelectorAll('#families .family')]",
                                             ".some(e => e.textContent === ", Js(evil_family), ")")));
  // A class directory of a hostile dataset is named by whoever made it.
  Sql(absl::StrCat("UPDATE jobs SET skipped_images = jsonb_build_object('train/' || $x$", evil_name,
                   "$x$, 2) WHERE id = ", job_a_, " RETURNING 1"));
  Open(absl::StrCat("#/job/", job_a_), "job");
  EXPECT_NE(Text("#job-families").find(evil_family), std::string::npos);
  EXPECT_EQ(Text("#job-skipped"),
            absl::StrCat("Skipped 2 bad image files (dataset.skip_bad_images): train/", evil_name, " 2"));
  auto pwned = browser_->Eval("String(window.__pwned)");
  ASSERT_TRUE(pwned.ok());
  EXPECT_EQ(*pwned, "undefined") << "markup from the database ran";
  auto elements = browser_->Eval("document.querySelectorAll('#main script, #main img').length");
  ASSERT_TRUE(elements.ok());
  EXPECT_EQ(*elements, 0);
}

// A coordinator that takes no more event streams (0 here; the limit is
// ui_max_event_streams): the page says it is polling, and a new epoch still
// appears without a reload.
class DashboardOverTheStreamLimitTest : public DashboardBrowserTest {
 protected:
  void Adjust(CoordinatorOptions& o) override { o.ui_max_event_streams = 0; }
};

TEST_F(DashboardOverTheStreamLimitTest, APageWhoseFeedIsRefusedPollsInstead) {
  Seed();
  auto refused = HttpCall(port_, "GET", "/api/v1/events", {{"Authorization", std::string("Bearer ") + kReaderToken}});
  EXPECT_EQ(refused.status, 503);
  SignInAs(kAdminToken);
  Open(absl::StrCat("#/job/", running_.job_id()), "job");
  EXPECT_TRUE(browser_->WaitFor("document.querySelector('#live').textContent === 'polling'"))
      << "live: " << Text("#live");
  ASSERT_TRUE(browser_->Eval("window.__sameDocument = 'yes'; 1").ok());
  ASSERT_TRUE(ReportEpoch(worker_id_, running_, 2, 0.55).ok());
  EXPECT_TRUE(browser_->WaitFor("document.querySelector(\"#epochs tr[data-epoch='2']\")",
                                std::chrono::seconds(15)))
      << "epoch 2 did not appear: " << Text("#epochs");
  auto same = browser_->Eval("window.__sameDocument || ''");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, "yes") << "the page reloaded";
}

}  // namespace
}  // namespace moe4::coordinator
