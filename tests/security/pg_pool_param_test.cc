// Regression for the one string-built statement sql_grep_test.py found:
// PgPool set statement_timeout with "SET statement_timeout = " + value. It now
// uses set_config($1); this checks the setting still reaches every session.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "coordinator/store/pg_pool.h"
#include "tests/coordinator/test_support.h"

namespace moe4::coordinator {
namespace {

TEST(PgPoolParamTest, StatementTimeoutReachesEverySession) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok()) << db.error();
  PgPoolOptions o;
  o.conninfo = db.url();
  o.size = 2;
  o.statement_timeout = absl::Milliseconds(1234);
  PgPool pool(o);
  for (int i = 0; i < 4; ++i) {
    std::string timeout;
    absl::Status s = pool.Run("reading the timeout", [&](pqxx::connection& conn) {
      pqxx::nontransaction txn(conn);
      timeout = txn.exec1("SHOW statement_timeout")[0].as<std::string>();
      return absl::OkStatus();
    });
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(timeout, "1234ms");
  }
  // And it bites: a statement longer than the timeout is cancelled.
  absl::Status slow = pool.Run("sleeping", [&](pqxx::connection& conn) {
    pqxx::nontransaction txn(conn);
    txn.exec("SELECT pg_sleep(3)");
    return absl::OkStatus();
  });
  EXPECT_EQ(slow.code(), absl::StatusCode::kDeadlineExceeded) << slow;
}

}  // namespace
}  // namespace moe4::coordinator
