// The HTML report's assets, embedded into moe4ctl at build time by
// embed_assets.cmake: Chart.js and chartjs-chart-matrix (from `npm ci` of
// ctl/report/package.json, MIT, licence banners kept), and our own report.js
// and report.css. Immutable; safe for concurrent use.
#pragma once

#include <string_view>

namespace moe4::ctl {

// False when moe4ctl was configured with -DMOE4_WITH_REPORT=OFF (no npm):
// ChartJs() and MatrixJs() are then empty and `report` refuses to run.
bool HaveChartLibrary();
std::string_view ChartJs();    // chart.js/dist/chart.umd.min.js
std::string_view MatrixJs();   // chartjs-chart-matrix/dist/chartjs-chart-matrix.min.js
std::string_view ReportJs();   // ctl/report/report.js
std::string_view ReportCss();  // ctl/report/report.css

}  // namespace moe4::ctl
