// Skipped image files (dataset.skip_bad_images) on PgJobStore against a real
// PostgreSQL: the counts an epoch report carries are kept on the job, read
// back by GetJob and ListJobs, kept when a later report carries none,
// replaced by newer ones, untouched by a fenced report, and readable by
// moe4_reader through v_skipped_images.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "coordinator/scheduler/campaign_planner.h"
#include "coordinator/store/migrations.h"
#include "coordinator/store/pg_job_store.h"
#include "tests/coordinator/test_support.h"

namespace moe4::coordinator {
namespace {

using testing::Epoch;
using testing::QueryOne;
using testing::SpecOptions;
using testing::SpecYaml;
using testing::TestDatabase;

using Counts = std::map<std::string, int32_t>;

Counts CountsOf(const google::protobuf::Map<std::string, int32_t>& m) { return {m.begin(), m.end()}; }

class SkippedImagesStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << db_.error();
    auto applied = ApplyMigrations(db_.url());
    ASSERT_TRUE(applied.ok()) << applied.status();
    PgPoolOptions po;
    po.conninfo = db_.url();
    po.size = 4;
    pool_ = std::make_unique<PgPool>(po);
    PgJobStoreOptions so;
    so.instance_id = "test";
    store_ = std::make_unique<PgJobStore>(*pool_, so);

    SpecOptions o;
    o.budget = 2;
    o.epochs = 4;
    auto plan = PlanCampaign(SpecYaml(o), SpecLimits{});
    ASSERT_TRUE(plan.ok()) << plan.status();
    auto campaign = store_->CreateCampaign(*plan);
    ASSERT_TRUE(campaign.ok()) << campaign.status();
    campaign_ = *campaign;
    moe4::v1::RegisterRequest r;
    r.set_name("w1");
    r.set_device_kind("cpu");
    auto worker = store_->RegisterWorker(r);
    ASSERT_TRUE(worker.ok()) << worker.status();
    worker_ = *worker;
    auto job = store_->LeaseJob(worker_, absl::Seconds(60));
    ASSERT_TRUE(job.ok() && job->has_value()) << "no job to lease";
    job_ = **job;
  }

  // A report of `epochs`, each carrying `skipped`.
  absl::Status Report(const std::vector<int>& epochs, const Counts& skipped, int attempt = 0) {
    moe4::v1::ReportEpochsRequest r;
    r.set_worker_id(worker_);
    r.set_job_id(job_.job_id());
    r.set_attempt(attempt > 0 ? attempt : job_.attempt());
    for (int e : epochs) {
      moe4::v1::EpochMetrics* m = r.add_epochs();
      *m = Epoch(e, job_.families_size());
      m->mutable_skipped_images()->insert(skipped.begin(), skipped.end());
    }
    return store_->ReportEpochs(r, absl::Seconds(60)).status();
  }

  Counts Stored() {
    auto job = store_->GetJob(job_.job_id());
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? CountsOf(job->job().skipped_images()) : Counts{};
  }

  std::string Sql(const std::string& q) { return QueryOne(db_.url(), q); }

  TestDatabase db_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgJobStore> store_;
  int64_t campaign_ = 0;
  int64_t worker_ = 0;
  moe4::v1::JobAssignment job_;
};

TEST_F(SkippedImagesStoreTest, ReportedCountsAreKeptOnTheJobAndReadBack) {
  EXPECT_TRUE(Stored().empty()) << "nothing reported yet";
  const Counts skipped = {{"train/cat", 2}, {"test/dog", 1}, {"val/caf\xc3\xa9", 1}};
  ASSERT_TRUE(Report({1}, skipped).ok());  // one epoch: the one-statement path
  EXPECT_EQ(Stored(), skipped);

  // Kept on the job, not per epoch: epochs read back carry none.
  auto job = store_->GetJob(job_.job_id());
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(job->epochs_size(), 1);
  EXPECT_TRUE(job->epochs(0).skipped_images().empty());

  JobQuery q;
  q.campaign_id = campaign_;
  auto jobs = store_->ListJobs(q);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 2u);
  for (const auto& j : *jobs) {
    EXPECT_EQ(CountsOf(j.skipped_images()), j.job_id() == job_.job_id() ? skipped : Counts{}) << "job " << j.job_id();
  }

  const std::string id = std::to_string(job_.job_id());
  EXPECT_EQ(Sql("SELECT skipped_images::text FROM jobs WHERE id = " + id),
            "{\"test/dog\": 1, \"train/cat\": 2, \"val/caf\xc3\xa9\": 1}");
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE skipped_images IS NULL"), "1") << "the other job: NULL";
}

TEST_F(SkippedImagesStoreTest, ALaterReportWithoutCountsKeepsThemAndNewerCountsReplaceThem) {
  ASSERT_TRUE(Report({1}, {{"train/cat", 2}}).ok());
  ASSERT_TRUE(Report({2}, {}).ok());
  EXPECT_EQ(Stored(), (Counts{{"train/cat", 2}})) << "an epoch without counts (an older worker) erased them";
  // Several epochs in one report (the transaction path): the last one's.
  ASSERT_TRUE(Report({3, 4}, {{"train/cat", 1}, {"train/owl", 3}}).ok());
  EXPECT_EQ(Stored(), (Counts{{"train/cat", 1}, {"train/owl", 3}}));
}

TEST_F(SkippedImagesStoreTest, AFencedReportLeavesThemAlone) {
  ASSERT_TRUE(Report({1}, {{"train/cat", 2}}).ok());
  for (const std::vector<int>& epochs : {std::vector<int>{2}, std::vector<int>{2, 3}}) {
    const absl::Status s = Report(epochs, {{"train/cat", 9}}, job_.attempt() + 1);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  }
  EXPECT_EQ(Stored(), (Counts{{"train/cat", 2}}));
}

TEST_F(SkippedImagesStoreTest, TheReaderSeesOneRowPerSplitAndClass) {
  ASSERT_TRUE(Report({1}, {{"train/cat", 2}, {"test/dog", 1}, {"(other classes)", 4}}).ok());
  pqxx::connection conn(db_.url());
  pqxx::work txn(conn);
  txn.exec("SET ROLE moe4_reader");
  const pqxx::result rows = txn.exec_params(
      "SELECT coalesce(split, '-'), class_name, files, family_list = array_to_string(families, '+'), state "
      "FROM v_skipped_images WHERE campaign_id = $1 AND job_id = $2 ORDER BY split NULLS FIRST, class_name",
      campaign_, job_.job_id());
  std::vector<std::string> got;
  for (const auto& row : rows) {
    EXPECT_TRUE(row[3].as<bool>());
    EXPECT_EQ(row[4].as<std::string>(), "running");
    got.push_back(row[0].as<std::string>() + " " + row[1].as<std::string>() + " " + row[2].as<std::string>());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"- (other classes) 4", "test dog 1", "train cat 2"}));
  EXPECT_EQ(txn.exec("SELECT count(*) FROM v_skipped_images")[0][0].as<int>(), 3) << "one job skipped files";
}

}  // namespace
}  // namespace moe4::coordinator
