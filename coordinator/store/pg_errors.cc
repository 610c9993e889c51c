#include "coordinator/store/pg_errors.h"

#include <pqxx/pqxx>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace moe4::coordinator {
namespace {

std::string Trimmed(const char* what) {
  std::string s(what);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

bool IsConnectionLoss(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return true;
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) return true;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now;
    // class 08: connection exceptions.
    return state == "57P01" || state == "57P02" || state == "57P03" || absl::StartsWith(state, "08");
  }
  return false;
}

absl::Status StatusFromPqxx(const std::exception& e, absl::string_view context) {
  const std::string msg = absl::StrCat(context, ": ", Trimmed(e.what()));
  if (IsConnectionLoss(e)) return absl::UnavailableError(msg);
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    if (state == "40001" || state == "40P01") return absl::AbortedError(msg);
    if (state == "57014") return absl::DeadlineExceededError(msg);
    if (state == "23505") return absl::AlreadyExistsError(msg);
    if (absl::StartsWith(state, "22") || state == "23514") return absl::InvalidArgumentError(msg);
    return absl::InternalError(msg);
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return absl::AbortedError(msg);
  }
  return absl::InternalError(msg);
}

}  // namespace moe4::coordinator
