// Versioned schema migrations, embedded into the binary at build time from
// coordinator/store/migrations/NNN_name.sql (listed in coordinator/CMakeLists.txt).
//
// ApplyMigrations brings a database to the newest version in one transaction,
// under a transaction-scoped advisory lock, so two coordinators starting
// together serialise instead of racing, and a failed migration leaves nothing
// half-applied. Applying to an up-to-date database changes nothing. Stateless;
// safe for concurrent use (the lock serialises concurrent callers).
#pragma once

#include <string>
#include <vector>

#include <pqxx/connection>

#include "absl/status/statusor.h"


namespace moe4::coordinator {

struct Migration {
  int version;       // NNN of the file name; strictly increasing
  const char* name;  // the rest of the file name
  const char* sql;
};

// The migrations compiled into this binary, in version order.
const std::vector<Migration>& EmbeddedMigrations();

// Key of the advisory lock that serialises migrations ("moe4mig" in ASCII).
inline constexpr long long kMigrationLockKey = 0x6d6f65346d6967LL;

// Applies every migration newer than the database's schema_version. Returns the
// number applied. Errors: UNAVAILABLE when Postgres cannot be reached,
// FAILED_PRECONDITION when the database is newer than this binary (a rollback
// of the coordinator onto a migrated database), INTERNAL for a failing script.
absl::StatusOr<int> ApplyMigrations(pqxx::connection& conn);

// Convenience: connects to `conninfo`, applies, disconnects.
absl::StatusOr<int> ApplyMigrations(const std::string& conninfo);

}  // namespace moe4::coordinator
