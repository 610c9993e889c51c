#include "coordinator/store/pg_conninfo.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace moe4::coordinator {

std::string ConninfoWithDeadlines(const std::string& conninfo, int timeout_seconds) {
  const int s = std::max(2, timeout_seconds);
  // tcp_user_timeout bounds a query on a connection whose server vanished
  // (no RST: a partition, a frozen VM), which connect_timeout does not.
  const std::string connect = absl::StrCat("connect_timeout=", s);
  const std::string tcp = absl::StrCat("tcp_user_timeout=", s * 1000);
  const std::string statement = absl::StrCat("-c statement_timeout=", s * 1000);
  if (absl::StrContains(conninfo, "://")) {
    // A URI: parameters after '?'; "options" value percent-encoded.
    const char sep = absl::StrContains(conninfo, "?") ? '&' : '?';
    return absl::StrCat(conninfo, std::string(1, sep), connect, "&", tcp,
                        "&options=-c%20statement_timeout%3D", s * 1000);
  }
  // Later keywords override earlier ones in a key=value conninfo.
  return absl::StrCat(conninfo, " ", connect, " ", tcp, " options='", statement, "'");
}

}  // namespace moe4::coordinator
