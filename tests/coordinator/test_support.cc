#include "tests/coordinator/test_support.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace moe4::coordinator::testing {

TestDatabase::TestDatabase() {
  const char* url = std::getenv("MOE4_PG_URL");
  if (url == nullptr || *url == '\0') {
    error_ =
        "MOE4_PG_URL is not set: these tests need a PostgreSQL server. Run deploy/test.sh, or "
        "eval \"$(deploy/pg-throwaway.sh start)\" first.";
    return;
  }
  admin_url_ = url;
  static std::atomic<int> counter{0};
  name_ = absl::StrCat("moe4_t_", getpid(), "_", counter++);
  try {
    pqxx::connection conn(admin_url_);
    pqxx::nontransaction txn(conn);
    txn.exec("DROP DATABASE IF EXISTS " + txn.quote_name(name_) + " WITH (FORCE)");
    txn.exec("CREATE DATABASE " + txn.quote_name(name_));
  } catch (const std::exception& e) {
    error_ = absl::StrCat("cannot create test database ", name_, ": ", e.what());
    return;
  }
  // In a conninfo string the last occurrence of a keyword wins.
  url_ = absl::StrCat(admin_url_, " dbname=", name_);
}

TestDatabase::~TestDatabase() {
  if (name_.empty() || admin_url_.empty()) return;
  try {
    pqxx::connection conn(admin_url_);
    pqxx::nontransaction txn(conn);
    txn.exec("DROP DATABASE IF EXISTS " + txn.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cannot drop test database " << name_ << ": " << e.what();
  }
}

std::string SpecYaml(const SpecOptions& o) {
  std::string y = absl::StrCat("name: ", o.name, "\nfamilies: [", absl::StrJoin(o.families, ", "),
                               "]\nk: ", o.k, "\nsampler: ", o.sampler, "\nbudget: ", o.budget,
                               "\nseed: 7\nmax_attempts: ", o.max_attempts,
                               "\npriority: ", o.priority,
                               "\nmax_job_seconds: ", o.max_job_seconds,
                               "\ncatalogue: adapted\nreplicates: ", o.replicates, "\nrefill: ", o.refill ? "true" : "false",
                               "\nrecipe: {epochs: ", o.epochs, o.recipe_extra, "}\n");
  if (o.validation_fraction.empty()) {
    absl::StrAppend(&y, "dataset: {name: synthetic}\n");
  } else {
    absl::StrAppend(&y, "dataset: {name: synthetic, validation_fraction: ", o.validation_fraction, "}\n");
    if (o.validation_fraction == "0") absl::StrAppend(&y, "selection: final\n");
  }
  if (!o.schedule.empty()) absl::StrAppend(&y, "schedule: ", o.schedule, "\n");
  if (!o.device_kind.empty() || o.min_memory_mb > 0) {
    absl::StrAppend(&y, "requirements: {");
    if (!o.device_kind.empty()) absl::StrAppend(&y, "device_kind: ", o.device_kind, ", ");
    absl::StrAppend(&y, "min_memory_mb: ", o.min_memory_mb, "}\n");
  }
  return y;
}

moe4::v1::EpochMetrics Epoch(int epoch, int k, double test_accuracy, double validation_accuracy) {
  moe4::v1::EpochMetrics m;
  m.set_epoch(epoch);
  m.set_train_loss(1.0 / epoch);
  m.set_train_accuracy(test_accuracy * 0.9);
  m.set_test_loss(1.1 / epoch);
  m.set_test_accuracy(test_accuracy);
  m.set_lr(1e-3);
  for (int i = 0; i < k; ++i) {
    m.add_gate_mean(1.0 / k);
    m.add_routing_share(1.0 / k);
    m.add_expert_accuracy(test_accuracy * 0.8);
  }
  m.set_routing_entropy(0.9);
  m.set_dead_experts(0);
  m.set_ecology(0.6);
  m.set_temperature(2.0);
  m.set_epoch_seconds(1.5);
  m.set_images_per_second(1000);
  m.set_peak_memory_bytes(1 << 20);
  m.set_validation_loss(1.2 / epoch);
  m.set_validation_accuracy(validation_accuracy < 0 ? test_accuracy : validation_accuracy);
  return m;
}

std::string QueryOne(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  pqxx::result r = txn.exec(sql);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

}  // namespace moe4::coordinator::testing
