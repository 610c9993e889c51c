#include "ctl/report/html_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "ctl/output.h"
#include "ctl/report/assets.h"
#include "nlohmann/json.hpp"

namespace moe4::ctl {
namespace {

nlohmann::json NumberOrNull(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

// The heatmap's axis: families by mean validation accuracy (as FamilyStats
// orders them), then any pool family without a result.
std::vector<std::string> HeatmapFamilies(const ReportInputs& in) {
  std::vector<std::string> order;
  for (const auto& f : in.families.families()) order.push_back(f.family());
  for (const auto& f : in.coverage.families()) {
    if (std::find(order.begin(), order.end(), f.family()) == order.end()) order.push_back(f.family());
  }
  return order;
}

// "71.3%", or "71.3% &plusmn; 0.4" (standard deviation in points) over n > 1 replicates.
std::string MeanSd(double mean, double sd, int n) {
  if (n < 2 || !std::isfinite(sd)) return Percent(mean);
  return absl::StrCat(Percent(mean), " &plusmn; ", Fixed(100 * sd, 1));
}

std::string LeaderboardTable(const moe4::v1::LeaderboardResponse& leaderboard, bool asha) {
  if (leaderboard.entries_size() == 0) return "<p class=\"note\">No succeeded ensembles yet.</p>\n";
  std::string html = absl::StrCat(
      "<table id=\"leaderboard\">\n<tr><th>#</th><th>job</th><th>families</th>",
      asha ? "<th>rung</th><th>epochs</th>" : "",
      "<th>n</th><th>validation</th><th>test</th><th>final</th><th>epoch</th><th>time</th><th>parameters</th></tr>\n");
  int place = 0;
  for (const auto& e : leaderboard.entries()) {
    absl::StrAppend(&html, "<tr><td class=\"num\">", ++place, "</td><td class=\"num\">", e.job_id(), "</td><td>",
                    HtmlEscape(absl::StrJoin(e.families(), " + ")), "</td>",
                    asha ? absl::StrCat("<td class=\"num\">", e.rung(), "</td><td class=\"num\">", e.rung_epochs(),
                                        "</td>")
                         : std::string(),
                    "<td class=\"num\">", e.n(),
                    "</td><td class=\"num\">", MeanSd(e.validation_accuracy(), e.validation_accuracy_sd(), e.n()),
                    "</td><td class=\"num\">",
                    MeanSd(e.selected_test_accuracy(), e.selected_test_accuracy_sd(), e.n()),
                    "</td><td class=\"num\">", MeanSd(e.final_test_accuracy(), e.final_test_accuracy_sd(), e.n()),
                    "</td><td class=\"num\">", e.selected_epoch() > 0 ? std::to_string(e.selected_epoch()) : "-",
                    "</td><td class=\"num\">", Duration(e.train_seconds()), "</td><td class=\"num\">",
                    e.parameter_count(), "</td></tr>\n");
  }
  return html + "</table>\n";
}

// "71.3%" or "-".
std::string PercentOrDash(double v) { return std::isfinite(v) ? Percent(v) : std::string("-"); }

// An asha campaign's rungs: candidates per rung and the promotion
// threshold, then each family's mean validation accuracy per rung (rung 0
// is every sampled combination: the unbiased figures).
std::string RungsSection(const ReportInputs& in) {
  const auto& c = in.campaign.campaign();
  std::string rungs;
  for (int e : c.schedule().rung_epochs()) absl::StrAppend(&rungs, rungs.empty() ? "" : ", ", e);
  std::string html = absl::StrCat(
      "<h2>Rungs</h2>\n<p class=\"note\">Successive halving (asha): every sampled combination trains ",
      c.schedule().min_epochs(), " epoch(s) at rung 0; the top 1/", c.schedule().reduction_factor(),
      " of a rung's finished members by validation accuracy is promoted to the next (rungs at ", rungs,
      " epochs); the rest stop at their rung. threshold: the validation accuracy a finished member needs to be "
      "promoted now.</p>\n<table id=\"rungs\">\n<tr><th>rung</th><th>epochs</th><th>entered</th><th>finished</th>"
      "<th>training</th><th>waiting</th><th>promoted</th><th>stopped</th><th>failed</th><th>threshold</th>"
      "<th>best</th><th>closed</th></tr>\n");
  for (const auto& r : in.campaign.rungs()) {
    absl::StrAppend(&html, "<tr><td class=\"num\">", r.rung(), "</td><td class=\"num\">", r.epochs(),
                    "</td><td class=\"num\">", r.entered(), "</td><td class=\"num\">", r.finished(),
                    "</td><td class=\"num\">", r.training(), "</td><td class=\"num\">", r.waiting(),
                    "</td><td class=\"num\">", r.promoted(), "</td><td class=\"num\">", r.stopped(),
                    "</td><td class=\"num\">", r.failed(), "</td><td class=\"num\">", PercentOrDash(r.threshold()),
                    "</td><td class=\"num\">", PercentOrDash(r.best()), "</td><td>", r.closed() ? "yes" : "no",
                    "</td></tr>\n");
  }
  html += "</table>\n";
  if (in.rung_families.empty()) return html;
  // Families in rung 0's order (best mean validation accuracy first).
  std::vector<std::string> order;
  std::vector<std::map<std::string, const moe4::v1::FamilyStat*>> by_rung;
  for (const auto& r : in.rung_families) {
    by_rung.emplace_back();
    for (const auto& f : r.families()) {
      by_rung.back()[f.family()] = &f;
      if (std::find(order.begin(), order.end(), f.family()) == order.end()) order.push_back(f.family());
    }
  }
  absl::StrAppend(&html,
                  "<h3>Families per rung</h3>\n<p class=\"note\">Mean validation accuracy (n candidates) of the "
                  "candidates containing the family that finished each rung. Rung 0 covers every sampled "
                  "combination; higher rungs hold only the promoted, so compare families within a column.</p>\n"
                  "<table id=\"rung-families\">\n<tr><th>family</th>");
  for (size_t i = 0; i < in.rung_families.size(); ++i) {
    absl::StrAppend(&html, "<th>rung ", in.rung_families[i].rung(), " (", in.rung_families[i].rung_epochs(),
                    " epochs)</th>");
  }
  html += "</tr>\n";
  for (const auto& family : order) {
    absl::StrAppend(&html, "<tr><td>", HtmlEscape(family), "</td>");
    for (const auto& m : by_rung) {
      auto it = m.find(family);
      absl::StrAppend(&html, "<td class=\"num\">",
                      it == m.end() ? std::string("-")
                                    : absl::StrCat(PercentOrDash(it->second->validation_mean()), " (",
                                                   it->second->n(), ")"),
                      "</td>");
    }
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

// Debian's abseil has its own string_view: the assets are std::string_view.
absl::string_view Text(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// JSON inside <script>: "<" only occurs in strings, where \u003c means the
// same, so no family or campaign name can close the element.
std::string ScriptSafe(const std::string& json) { return absl::StrReplaceAll(json, {{"<", "\\u003c"}}); }

}  // namespace

std::string HtmlEscape(const std::string& text) {
  return absl::StrReplaceAll(text,
                             {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
}

std::string ReportDataJson(const ReportInputs& in) {
  nlohmann::json data;
  data["curves"] = nlohmann::json::array();
  int place = 0;
  for (const auto& job : in.curves) {
    nlohmann::json accuracy = nlohmann::json::array();
    for (const auto& e : job.epochs()) accuracy.push_back(NumberOrNull(e.test_accuracy()));
    data["curves"].push_back({{"label", absl::StrCat("#", ++place, " ", absl::StrJoin(job.job().families(), "+"),
                                                     " (job ", job.job().job_id(), ")")},
                              {"job_id", job.job().job_id()},
                              {"accuracy", accuracy}});
  }

  // Heatmap: cell (a, b) is the mean final accuracy of the ensembles that
  // contain both a and b; the diagonal is the family's own mean.
  const std::vector<std::string> families = HeatmapFamilies(in);
  std::map<std::pair<std::string, std::string>, std::pair<double, int>> cell;
  for (const auto& f : in.families.families()) cell[{f.family(), f.family()}] = {f.mean(), f.n()};
  for (const auto& p : in.pairs.pairs()) {
    cell[{p.family_a(), p.family_b()}] = {p.mean(), p.n()};
    cell[{p.family_b(), p.family_a()}] = {p.mean(), p.n()};
  }
  nlohmann::json cells = nlohmann::json::array();
  for (const auto& y : families) {
    for (const auto& x : families) {
      auto it = cell.find({y, x});
      cells.push_back({{"x", x},
                       {"y", y},
                       {"v", it == cell.end() ? nlohmann::json() : NumberOrNull(it->second.first)},
                       {"n", it == cell.end() ? 0 : it->second.second}});
    }
  }
  data["heatmap"] = {{"families", families}, {"cells", cells}};

  nlohmann::json cov_families = nlohmann::json::array(), shares = nlohmann::json::array(),
                 anchors = nlohmann::json::array();
  for (const auto& f : in.coverage.families()) {
    cov_families.push_back(f.family());
    shares.push_back(f.share());
    anchors.push_back(f.anchor());
  }
  data["coverage"] = {
      {"families", cov_families},
      {"shares", shares},
      {"anchor", anchors},
      {"ideal", in.coverage.families_size() > 0 ? in.coverage.families(0).ideal_share() : 0.0}};
  return data.dump();
}

std::string RenderHtmlReport(const ReportInputs& in) {
  const auto& c = in.campaign.campaign();
  const std::string title = absl::StrCat("moe4 campaign ", c.campaign_id(), ": ", c.name());
  const bool asha = c.schedule().kind() == moe4::v1::SCHEDULE_KIND_ASHA;
  std::vector<std::string> anchors;
  for (const auto& f : in.coverage.families()) {
    if (f.anchor()) anchors.push_back(f.family());
  }

  std::string html;
  absl::StrAppend(&html, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
                  HtmlEscape(title), "</title>\n<style>\n", Text(ReportCss()), "</style>\n");
  // The libraries go in <head> so they are defined before report.js runs.
  absl::StrAppend(&html, "<script>\n", Text(ChartJs()), "\n</script>\n</head>\n<body>\n");
  absl::StrAppend(&html, "<h1>", HtmlEscape(title), "</h1>\n<p class=\"meta\">",
                  HtmlEscape(std::string(CampaignStateName(c.state()))), " &middot; K=", c.k(), " &middot; ",
                  HtmlEscape(c.sampler()), " sampler &middot; ", HtmlEscape(c.catalogue()), " catalogue &middot; dataset ", HtmlEscape(c.dataset()), " &middot; ",
                  c.epochs(), " epochs &middot; ", c.budget(), " jobs: ", c.succeeded(), " succeeded, ", c.failed(),
                  " failed, ", c.cancelled(), " cancelled, ", c.pending() + c.leased() + c.running(),
                  " unfinished</p>\n<p class=\"meta\">generated ", HtmlEscape(in.generated_at),
                  " by moe4ctl report</p>\n");

  absl::StrAppend(&html, "<p class=\"meta\">",
                  c.selection() == "final"
                      ? std::string("no validation split: each job reports its last epoch and combinations rank by "
                                    "final test accuracy")
                      : absl::StrCat("validation split ", Percent(c.validation_fraction()),
                                     " of the training images: each job reports the epoch with the best validation "
                                     "accuracy, and combinations rank by it"),
                  " &middot; ", std::max(1, c.replicates()), c.replicates() > 1 ? " replicates" : " replicate",
                  " per combination</p>\n");
  absl::StrAppend(&html, "<h2>Leaderboard</h2>\n<p class=\"note\">",
                  asha ? "asha: ranked by the highest rung reached, then validation accuracy there. " : "",
                  "One row per combination. validation: accuracy "
                         "on the held-out images at the selected epoch; test: test accuracy at that epoch (the "
                         "number to report); final: test accuracy at the last epoch; mean &plusmn; standard "
                         "deviation (points) over n replicates.</p>\n",
                  LeaderboardTable(in.leaderboard, asha));
  if (asha) absl::StrAppend(&html, RungsSection(in));

  absl::StrAppend(&html, "<h2>Test accuracy of the top ", in.curves.size(),
                  " candidates</h2>\n<canvas id=\"chart-curves\" width=\"1100\" height=\"420\"></canvas>\n");

  absl::StrAppend(&html,
                  "<h2>Mean test accuracy by family pair</h2>\n<p class=\"note\">Cell (row, column): mean test "
                  "accuracy at the selected epoch of the combinations containing both families (replicates "
                  "averaged first); the diagonal is the family's own mean. Darker is better; families sorted by "
                  "mean validation accuracy, best first.</p>\n"
                  "<canvas id=\"chart-heatmap\" width=\"760\" height=\"680\"></canvas>\n");

  absl::StrAppend(&html, "<h2>Coverage</h2>\n<p class=\"note\">", in.coverage.candidates(),
                  " candidates. Share of the candidates that contain each family, against the ideal K/N (dashed); "
                  "a family above 2K/N (red line) is an anchor. Pairs covered ",
                  in.coverage.pairs_covered(), "/", in.coverage.pairs_total(), ", max/min count ratio ",
                  Fixed(in.coverage.max_min_ratio(), 2), ".</p>\n");
  if (!anchors.empty()) {
    absl::StrAppend(&html, "<p class=\"warn\">Anchor: ", HtmlEscape(absl::StrJoin(anchors, ", ")),
                    " in more than 2K/N of the candidates; comparisons between the other families are confounded "
                    "with it.</p>\n");
  }
  absl::StrAppend(&html, "<canvas id=\"chart-coverage\" width=\"1100\" height=\"380\"></canvas>\n");

  absl::StrAppend(&html, "<div id=\"moe4-render-status\" data-charts=\"0\" data-nonblank=\"0\">charts not drawn "
                         "(JavaScript off?)</div>\n");
  absl::StrAppend(&html, "<script type=\"application/json\" id=\"moe4-data\">", ScriptSafe(ReportDataJson(in)),
                  "</script>\n<script>\n", Text(ReportJs()), "\n</script>\n</body>\n</html>\n");
  return html;
}

}  // namespace moe4::ctl
