#include "coordinator/store/migrations.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "coordinator/store/pg_errors.h"
#include "spdlog/spdlog.h"

namespace moe4::coordinator {

absl::StatusOr<int> ApplyMigrations(pqxx::connection& conn) {
  const std::vector<Migration>& migrations = EmbeddedMigrations();
  try {
    pqxx::work txn(conn);
    // Released at commit/rollback; a second coordinator waits here and then
    // finds everything applied.
    txn.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
    txn.exec(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "  version int PRIMARY KEY,"
        "  name text NOT NULL,"
        "  applied_at timestamptz NOT NULL DEFAULT now())");
    int current = txn.exec1("SELECT coalesce(max(version), 0) FROM schema_version")[0].as<int>();
    const int newest = migrations.empty() ? 0 : migrations.back().version;
    if (current > newest) {
      return absl::FailedPreconditionError(
          absl::StrCat("database schema version ", current, " is newer than this coordinator's ",
                       newest, "; upgrade the coordinator"));
    }
    int applied = 0;
    for (const Migration& m : migrations) {
      if (m.version <= current) continue;
      try {
        txn.exec(m.sql);
      } catch (const pqxx::sql_error& e) {
        return absl::InternalError(absl::StrCat("migration ", m.version, "_", m.name,
                                                " failed: ", e.what()));
      }
      txn.exec_params("INSERT INTO schema_version (version, name) VALUES ($1, $2)", m.version,
                      std::string(m.name));
      spdlog::info("applied migration {:03d}_{}", m.version, m.name);
      ++applied;
    }
    txn.commit();
    return applied;
  } catch (const std::exception& e) {
    return StatusFromPqxx(e, "applying migrations");
  }
}

absl::StatusOr<int> ApplyMigrations(const std::string& conninfo) {
  try {
    pqxx::connection conn(conninfo);
    return ApplyMigrations(conn);
  } catch (const std::exception& e) {
    return StatusFromPqxx(e, "connecting to apply migrations");
  }
}

}  // namespace moe4::coordinator
