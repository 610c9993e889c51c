// The HTML report page as a string: escaping, the inlined assets, and the
// chart data its script draws from. (Rendering is checked in a real browser
// by report_test.cc.)
#include "ctl/report/html_report.h"

#include <gtest/gtest.h>

#include "ctl/report/assets.h"
#include "nlohmann/json.hpp"

namespace moe4::ctl {
namespace {

ReportInputs Sample() {
  ReportInputs in;
  auto* c = in.campaign.mutable_campaign();
  c->set_campaign_id(7);
  c->set_name("evil </script><b>name</b>");
  c->set_k(2);
  for (const auto& [family, mean] : {std::pair{"ResNet", 0.8}, {"AirNet", 0.5}}) {
    auto* f = in.families.add_families();
    f->set_family(family);
    f->set_mean(mean);
    f->set_n(1);
  }
  auto* p = in.pairs.add_pairs();
  p->set_family_a("AirNet");
  p->set_family_b("ResNet");
  p->set_mean(0.65);
  p->set_n(1);
  for (const char* family : {"AirNet", "ResNet", "VGG"}) {
    auto* f = in.coverage.add_families();
    f->set_family(family);
    f->set_share(0.5);
    f->set_ideal_share(2.0 / 3);
  }
  auto* e = in.leaderboard.add_entries();
  e->set_job_id(3);
  e->add_families("AirNet");
  e->add_families("ResNet");
  e->set_final_test_accuracy(0.65);
  moe4::v1::GetJobResponse curve;
  curve.mutable_job()->set_job_id(3);
  curve.mutable_job()->add_families("AirNet");
  curve.mutable_job()->add_families("ResNet");
  curve.add_epochs()->set_test_accuracy(0.4);
  curve.add_epochs()->set_test_accuracy(0.65);
  in.curves.push_back(curve);
  return in;
}

TEST(HtmlReportTest, InlinesTheChartLibraryAndOurScript) {
  if (!HaveChartLibrary()) GTEST_SKIP() << "moe4ctl built with -DMOE4_WITH_REPORT=OFF: no chart library";
  EXPECT_NE(ChartJs().find("Chart.js v3"), std::string_view::npos);
  const std::string html = RenderHtmlReport(Sample());
  EXPECT_NE(html.find(std::string(ChartJs())), std::string::npos);
  EXPECT_NE(html.find(std::string(ReportJs())), std::string::npos);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
}

TEST(HtmlReportTest, NamesCannotBreakOutOfTheMarkup) {
  const std::string html = RenderHtmlReport(Sample());
  EXPECT_EQ(html.find("</script><b>"), std::string::npos);
  EXPECT_NE(html.find("evil &lt;/script&gt;&lt;b&gt;name&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(HtmlEscape("a&b\"c'<"), "a&amp;b&quot;c&#39;&lt;");
}

TEST(HtmlReportTest, HeatmapIsSymmetricWithFamilyMeansOnTheDiagonal) {
  const auto data = nlohmann::json::parse(ReportDataJson(Sample()));
  const auto& h = data["heatmap"];
  // Families by mean, then pool families without results.
  EXPECT_EQ(h["families"], nlohmann::json({"ResNet", "AirNet", "VGG"}));
  ASSERT_EQ(h["cells"].size(), 9u);
  auto cell = [&](const std::string& y, const std::string& x) {
    for (const auto& c : h["cells"]) {
      if (c["x"] == x && c["y"] == y) return c["v"];
    }
    return nlohmann::json("missing");
  };
  EXPECT_EQ(cell("ResNet", "ResNet"), 0.8);
  EXPECT_EQ(cell("AirNet", "ResNet"), 0.65);
  EXPECT_EQ(cell("ResNet", "AirNet"), 0.65);
  EXPECT_TRUE(cell("VGG", "ResNet").is_null());
  EXPECT_EQ(data["curves"][0]["label"], "#1 AirNet+ResNet (job 3)");
  EXPECT_EQ(data["curves"][0]["accuracy"], nlohmann::json({0.4, 0.65}));
  EXPECT_EQ(data["coverage"]["families"].size(), 3u);
}

// The leaderboard shows validation accuracy (the ranking), the test accuracy
// at the selected epoch and the final one, as mean ± sd over replicates.
TEST(HtmlReportTest, LeaderboardShowsSelectionAndReplicateSpread) {
  ReportInputs in = Sample();
  in.campaign.mutable_campaign()->set_selection("best_validation");
  in.campaign.mutable_campaign()->set_validation_fraction(0.1);
  in.campaign.mutable_campaign()->set_replicates(3);
  auto* e = in.leaderboard.mutable_entries(0);
  e->set_n(3);
  e->set_validation_accuracy(0.7);
  e->set_validation_accuracy_sd(0.004);
  e->set_selected_test_accuracy(0.68);
  e->set_selected_test_accuracy_sd(0.012);
  e->set_final_test_accuracy_sd(0.02);
  const std::string html = RenderHtmlReport(in);
  EXPECT_NE(html.find("<th>n</th><th>validation</th><th>test</th><th>final</th><th>epoch</th>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">3</td><td class=\"num\">70.0% &plusmn; 0.4</td><td class=\"num\">68.0% "
                      "&plusmn; 1.2</td><td class=\"num\">65.0% &plusmn; 2.0</td><td class=\"num\">-</td>"),
            std::string::npos)
      << html.substr(html.find("<table id=\"leaderboard\">"), 800);
  EXPECT_NE(html.find("validation split 10.0% of the training images"), std::string::npos);
  EXPECT_NE(html.find("3 replicates per combination"), std::string::npos);
}

}  // namespace
}  // namespace moe4::ctl
