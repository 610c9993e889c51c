// The dashboard's files (coordinator/http/ui/), embedded at build time by
// ui/embed_ui.cmake, and Chart.js 3.9 from Debian's libjs-chart.js (MIT,
// licence banner kept). Immutable; safe for concurrent use.
#pragma once

#include <string_view>
#include <utility>

namespace moe4::coordinator {

// "index.html", "app.js", "app.css", "chart.js"; empty for an unknown name,
// and "chart.js" is empty when built with -DMOE4_WITH_UI_CHARTS=OFF.
std::string_view UiAsset(std::string_view name);

}  // namespace moe4::coordinator
