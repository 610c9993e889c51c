// moe4ctl report: the HTML page is self-contained (no external resource), and
// headless Chromium (Debian's `chromium`) draws all its charts from it: the
// page's script marks #moe4-render-status with how many canvases have pixels
// after drawing, and a screenshot of the page is a real image.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tests/ctl/ctl_world.h"

namespace moe4::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string TempDir() {
  std::string pattern = absl::StrCat(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp", "/moe4-report-XXXXXX");
  return mkdtemp(pattern.data()) ? pattern : "";
}

// The #moe4-render-status element of a dumped DOM ("" if absent). Searched
// as an element: the inlined script mentions its attribute names too.
std::string RenderStatus(const std::string& dom) {
  std::smatch m;
  static const std::regex status(R"(<div id="moe4-render-status"[^>]*>[^<]*</div>)");
  return std::regex_search(dom, m, status) ? m.str() : "";
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CtlWorld::Get().ok()) << CtlWorld::Get().error();
    dir_ = TempDir();
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override { std::system(absl::StrCat("rm -rf '", dir_, "'").c_str()); }

  // Writes the report of `campaign`; returns its path.
  std::string Report(int64_t campaign) {
    const std::string path = absl::StrCat(dir_, "/campaign", campaign, ".html");
    ProcessResult r = CtlWorld::Get().Ctl({"report", std::to_string(campaign), "--html", path});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find(absl::StrCat("wrote ", path)), std::string::npos) << r.out;
    return path;
  }

  // Headless Chromium on the page with the given extra flags; its stdout.
  ProcessResult Chromium(const std::string& page, std::vector<std::string> flags) {
    const char* chromium = std::getenv("MOE4_CHROMIUM");
    std::vector<std::string> argv = {chromium && *chromium ? chromium : "chromium",
                                     "--headless",
                                     "--no-sandbox",  // tests run as root in CI
                                     "--disable-gpu",
                                     "--disable-dev-shm-usage",
                                     "--disable-quic",
                                     "--no-first-run",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--hide-scrollbars",
                                     // Let timers and layout settle before dumping.
                                     "--virtual-time-budget=5000",
                                     absl::StrCat("--user-data-dir=", dir_, "/profile")};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(absl::StrCat("file://", page));
    ProcessOptions options;
    options.timeout_seconds = 90;
    ProcessResult r = RunProcess(argv, options);
    EXPECT_NE(r.exit_code, 127) << "chromium not found: install Debian's chromium (deploy/install-deps.sh does)";
    return r;
  }

  std::string dir_;
};

TEST_F(ReportTest, PageIsSelfContained) {
  const std::string html = ReadFile(Report(kResultsCampaign));
  EXPECT_NE(html.find("Chart.js v3"), std::string::npos) << "Chart.js is not inlined";
  // The heatmap is drawn on a plain canvas: no Chart.js plugin is needed.
  EXPECT_EQ(html.find("chartjs-chart-matrix"), std::string::npos);
  EXPECT_NE(html.find("id=\"moe4-data\""), std::string::npos);
  EXPECT_NE(html.find("<table id=\"leaderboard\">"), std::string::npos);
  EXPECT_NE(html.find("DenseNet + ResNet + VGG"), std::string::npos);
  // Nothing is fetched: no src/href attributes, no stylesheet links.
  EXPECT_FALSE(std::regex_search(html, std::regex(R"(<(script|img|link|iframe)[^>]*\b(src|href)=)", std::regex::icase)));
  EXPECT_GT(html.size(), 150u * 1024) << "the chart library is ~200 KiB";
}

TEST_F(ReportTest, ChromiumRendersEveryChart) {
  const std::string page = Report(kResultsCampaign);
  ProcessResult dom = Chromium(page, {"--dump-dom"});
  ASSERT_EQ(dom.exit_code, 0) << dom.err.substr(0, 4000);
  const std::string marker = RenderStatus(dom.out);
  ASSERT_FALSE(marker.empty()) << dom.out.substr(0, 2000);
  EXPECT_NE(marker.find("data-charts=\"3\""), std::string::npos) << marker;
  EXPECT_NE(marker.find("data-nonblank=\"3\""), std::string::npos) << marker;
  EXPECT_EQ(marker.find("data-error"), std::string::npos) << marker;
  // The canvas heatmap drew one cell per family pair (families x families).
  std::smatch cells;
  ASSERT_TRUE(std::regex_search(marker, cells, std::regex(R"re(data-heatmap-cells="(\d+)")re"))) << marker;
  const int drawn = std::stoi(cells[1]);
  const int side = static_cast<int>(std::lround(std::sqrt(drawn)));
  EXPECT_GT(side, 1) << marker;
  EXPECT_EQ(side * side, drawn) << marker;
  EXPECT_NE(dom.out.find("<title>moe4 campaign 1: results (rendered)</title>"), std::string::npos);

  const std::string png = dir_ + "/report.png";
  ProcessResult shot = Chromium(page, {"--screenshot=" + png, "--window-size=1280,2600"});
  ASSERT_EQ(shot.exit_code, 0) << shot.err.substr(0, 4000);
  const std::string image = ReadFile(png);
  ASSERT_GE(image.size(), 8u) << "no screenshot";
  EXPECT_EQ(image.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  // A blank 1280x2600 page compresses to a few KiB; charts and text do not.
  EXPECT_GT(image.size(), 60u * 1024) << "screenshot looks empty";
  if (const char* keep = std::getenv("MOE4_KEEP_REPORT_PNG"); keep && *keep) {
    std::system(absl::StrCat("cp '", png, "' '", keep, "'").c_str());
  }
}

TEST_F(ReportTest, ACampaignWithoutResultsStillRenders) {
  auto id = CtlWorld::Get().Submit(
      "name: empty\nfamilies: [AirNet, AlexNet, BagNet]\nk: 2\nbudget: 3\n"
      "catalogue: adapted\ndataset: {name: synthetic}\nrecipe: {epochs: 1}\n");
  ASSERT_TRUE(id.ok()) << id.status();
  CtlWorld::Get().Ctl({"pause", std::to_string(*id)});  // keep other tests' workers off it
  const std::string html = ReadFile(Report(*id));
  EXPECT_NE(html.find("No succeeded ensembles yet."), std::string::npos);
  ProcessResult dom = Chromium(absl::StrCat(dir_, "/campaign", *id, ".html"), {"--dump-dom"});
  ASSERT_EQ(dom.exit_code, 0);
  const std::string marker = RenderStatus(dom.out);
  EXPECT_NE(marker.find("data-nonblank=\"3\""), std::string::npos) << marker;
  EXPECT_EQ(marker.find("data-error"), std::string::npos) << marker;
  CtlWorld::Get().Ctl({"cancel", std::to_string(*id)});
}

}  // namespace
}  // namespace moe4::testing
