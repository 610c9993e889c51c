// CommandEnv's cell formatting (commands.h).
#include <cmath>

#include "ctl/commands.h"

namespace moe4::ctl {

std::string CommandEnv::Pct(double fraction) const {
  if (format != OutputFormat::kCsv) return Percent(fraction);
  return std::isnan(fraction) ? "" : ExactNumber(fraction);
}

std::string CommandEnv::Secs(double seconds) const {
  if (format != OutputFormat::kCsv) return Duration(seconds);
  return ExactNumber(seconds);
}

}  // namespace moe4::ctl
