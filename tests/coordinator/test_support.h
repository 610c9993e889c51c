// Helpers for the coordinator's tests: a fresh database per test on the
// throwaway cluster named by MOE4_PG_URL, spec YAML, and metric builders.
// Not thread-safe unless stated.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "moe4/v1/moe4.pb.h"

namespace moe4::coordinator::testing {

// Creates database moe4_t_<pid>_<n> in the cluster of MOE4_PG_URL and drops it
// (forcibly) on destruction. A test that needs Postgres fails, loudly, when
// MOE4_PG_URL is unset: check ok() in SetUp with ASSERT_TRUE(db.ok()) << db.error().
class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& name() const { return name_; }
  // conninfo of the fresh database.
  const std::string& url() const { return url_; }
  // conninfo of the server's maintenance database (MOE4_PG_URL itself).
  const std::string& admin_url() const { return admin_url_; }

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
  std::string error_;
};

struct SpecOptions {
  std::string name = "test-campaign";
  std::vector<std::string> families = {"AirNet", "AlexNet", "ResNet", "VGG", "DenseNet"};
  int k = 2;
  int budget = 6;
  int epochs = 2;
  int max_attempts = 3;
  int priority = 0;
  int64_t max_job_seconds = 0;
  std::string device_kind;  // "" = any
  int64_t min_memory_mb = 0;
  std::string sampler = "stratified";
  int replicates = 1;
  // "" = the spec default (0.1, selection best_validation); "0" also writes
  // selection: final.
  std::string validation_fraction;
  std::string recipe_extra;  // more recipe fields, e.g. ", entropy_weight: 0.1"
  bool refill = false;  // the spec's default is true; most tests count jobs
  std::string schedule;  // "" = none (full), else the mapping, e.g. "{kind: asha, min_epochs: 1}"
};
std::string SpecYaml(const SpecOptions& o);

// Epoch metrics for a K-expert job with plausible values; the validation
// accuracy is `validation_accuracy`, or the test accuracy when negative.
moe4::v1::EpochMetrics Epoch(int epoch, int k, double test_accuracy = 0.5, double validation_accuracy = -1);

// One SQL statement on `url`; returns the first column of the first row ("" if none).
std::string QueryOne(const std::string& url, const std::string& sql);

}  // namespace moe4::coordinator::testing
