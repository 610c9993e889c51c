// The self-contained HTML report of a campaign: summary, leaderboard table,
// accuracy curves of the top candidates, a family-by-family heatmap of mean
// final accuracy, and the coverage chart. Chart.js and the drawing code are
// inlined (assets.h), so the page opens offline. Pure: builds a string from
// the coordinator's answers; safe for concurrent use.
#pragma once

#include <string>
#include <vector>

#include "moe4/v1/moe4.pb.h"

namespace moe4::ctl {

struct ReportInputs {
  moe4::v1::GetResponse campaign;
  moe4::v1::LeaderboardResponse leaderboard;
  std::vector<moe4::v1::GetJobResponse> curves;  // the top candidates, best first
  moe4::v1::FamilyStatsResponse families;         // diagonal of the heatmap, its order
  moe4::v1::PairStatsResponse pairs;              // off-diagonal cells (mean per pair)
  moe4::v1::CoverageResponse coverage;
  // asha campaigns: FamilyStats of every rung, in rung order (empty otherwise).
  std::vector<moe4::v1::FamilyStatsResponse> rung_families;
  std::string generated_at;                       // shown in the header
};

std::string RenderHtmlReport(const ReportInputs& inputs);

// Text for HTML element content and attribute values.
std::string HtmlEscape(const std::string& text);

// The chart data (the JSON in #moe4-data) on its own, for tests.
std::string ReportDataJson(const ReportInputs& inputs);

}  // namespace moe4::ctl
