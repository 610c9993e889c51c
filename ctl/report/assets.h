// The HTML report's assets, embedded into moe4ctl at build time by
// embed_assets.cmake: Chart.js 3.9 (Debian's libjs-chart.js, MIT, licence
// banner kept), and our own report.js and report.css. Immutable; safe for
// concurrent use.
#pragma once

#include <string_view>

namespace moe4::ctl {

// False when moe4ctl was configured with -DMOE4_WITH_REPORT=OFF (no
// libjs-chart.js): ChartJs() is then empty and `report` refuses to run.
bool HaveChartLibrary();
std::string_view ChartJs();    // /usr/share/javascript/chart.js/chart.min.js
std::string_view ReportJs();   // ctl/report/report.js
std::string_view ReportCss();  // ctl/report/report.css

}  // namespace moe4::ctl
