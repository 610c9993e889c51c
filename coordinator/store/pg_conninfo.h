// Deadlines added to a libpq conninfo for connections that must notice a
// vanished server quickly: the readiness probe and the change listener.
// Pure functions; thread-safe.
#pragma once

#include <string>

namespace moe4::coordinator {

// `conninfo` (key=value or URI) with connect_timeout, tcp_user_timeout and a
// statement_timeout of `timeout_seconds` (at least 2) added.
std::string ConninfoWithDeadlines(const std::string& conninfo, int timeout_seconds);

}  // namespace moe4::coordinator
