// PgJobStore against a real PostgreSQL: each test gets its own database.
#include "coordinator/store/pg_job_store.h"

#include <gtest/gtest.h>

#include <cmath>

#include <atomic>
#include <limits>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "coordinator/metrics/metrics.h"
#include "coordinator/reaper/lease_reaper.h"
#include "coordinator/scheduler/campaign_planner.h"
#include "coordinator/store/migrations.h"
#include "tests/coordinator/test_support.h"

namespace moe4::coordinator {
namespace {

using testing::Epoch;
using testing::QueryOne;
using testing::SpecOptions;
using testing::SpecYaml;
using testing::TestDatabase;

class PgJobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << db_.error();
    auto applied = ApplyMigrations(db_.url());
    ASSERT_TRUE(applied.ok()) << applied.status();
    PgPoolOptions po;
    po.conninfo = db_.url();
    po.size = 16;
    pool_ = std::make_unique<PgPool>(po);
    PgJobStoreOptions so;
    so.instance_id = "test";
    so.backoff_base = absl::ZeroDuration();  // retries are immediately leasable
    so.backoff_max = absl::ZeroDuration();
    store_ = std::make_unique<PgJobStore>(*pool_, so);
  }

  int64_t Submit(const SpecOptions& o) {
    auto plan = PlanCampaign(SpecYaml(o), SpecLimits{});
    EXPECT_TRUE(plan.ok()) << plan.status();
    if (!plan.ok()) return 0;
    auto id = store_->CreateCampaign(*plan);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  int64_t Worker(const std::string& name, const std::string& kind = "cpu", int64_t mb = 0) {
    moe4::v1::RegisterRequest r;
    r.set_name(name);
    r.set_device_kind(kind);
    r.set_device_memory_mb(mb);
    auto id = store_->RegisterWorker(r);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  moe4::v1::JobAssignment Lease(int64_t worker) {
    auto job = store_->LeaseJob(worker, absl::Seconds(60));
    EXPECT_TRUE(job.ok()) << job.status();
    EXPECT_TRUE(job.ok() && job->has_value()) << "no job to lease";
    return job.ok() && job->has_value() ? **job : moe4::v1::JobAssignment{};
  }

  absl::Status Report(int64_t worker, const moe4::v1::JobAssignment& a, int epoch,
                      double acc = 0.5, double validation = -1) {
    moe4::v1::ReportEpochsRequest r;
    r.set_worker_id(worker);
    r.set_job_id(a.job_id());
    r.set_attempt(a.attempt());
    *r.add_epochs() = Epoch(epoch, a.families_size(), acc, validation);
    return store_->ReportEpochs(r, absl::Seconds(60)).status();
  }

  absl::Status Complete(int64_t worker, const moe4::v1::JobAssignment& a, double acc = 0.7) {
    moe4::v1::CompleteRequest r;
    r.set_worker_id(worker);
    r.set_job_id(a.job_id());
    r.set_attempt(a.attempt());
    r.set_final_test_accuracy(acc);
    r.set_best_test_accuracy(acc + 0.01);
    r.set_parameter_count(1000);
    r.set_train_seconds(3);
    return store_->Complete(r);
  }

  absl::StatusOr<FailResult> Fail(int64_t worker, const moe4::v1::JobAssignment& a,
                                  bool retryable) {
    moe4::v1::FailRequest r;
    r.set_worker_id(worker);
    r.set_job_id(a.job_id());
    r.set_attempt(a.attempt());
    r.set_reason("boom");
    r.set_retryable(retryable);
    return store_->Fail(r);
  }

  // Makes every held lease look expired, as if its worker died.
  void ExpireLeases() {
    QueryOne(db_.url(),
             "UPDATE jobs SET lease_deadline = now() - interval '1 second' "
             "WHERE state IN ('leased', 'running') RETURNING id");
  }

  std::string Sql(const std::string& q) { return QueryOne(db_.url(), q); }

  TestDatabase db_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgJobStore> store_;
};

TEST_F(PgJobStoreTest, MigrationsAreIdempotent) {
  auto again = ApplyMigrations(db_.url());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(Sql("SELECT count(*) FROM schema_version"),
            std::to_string(EmbeddedMigrations().size()));
}

// worker_totals (migration 017) is kept by a trigger; whatever ends an
// attempt, it must equal a recount of attempts, which the workers page used
// to do.
TEST_F(PgJobStoreTest, WorkerTotalsEqualARecountOfAttemptsWhateverEndsThem) {
  const std::string recount =
      "SELECT coalesce(string_agg(format('%s:%s/%s', w.id, n.s, n.f), ' ' ORDER BY w.id), '') FROM workers w, "
      "LATERAL (SELECT count(*) FILTER (WHERE outcome = 'succeeded') s, "
      "  count(*) FILTER (WHERE outcome IN ('failed', 'timed_out', 'lease_expired')) f "
      "  FROM attempts a WHERE a.worker_id = w.id) n";
  const std::string kept =
      "SELECT coalesce(string_agg(format('%s:%s/%s', w.id, coalesce(t.succeeded, 0), coalesce(t.failed, 0)), ' ' "
      "ORDER BY w.id), '') FROM workers w LEFT JOIN worker_totals t ON t.worker_id = w.id";
  SpecOptions o;
  o.budget = 4;
  o.max_attempts = 2;
  const int64_t campaign = Submit(o);
  const int64_t a = Worker("a"), b = Worker("b");
  auto one = Lease(a);
  ASSERT_TRUE(Report(a, one, 1).ok());
  ASSERT_TRUE(Report(a, one, 2).ok());
  ASSERT_TRUE(Complete(a, one).ok());                // a: succeeded
  ASSERT_TRUE(Fail(a, Lease(a), false).ok());       // a: failed
  auto three = Lease(b);
  ASSERT_TRUE(Fail(b, three, true).ok());           // b: retry (not counted)
  auto again = Lease(b);
  ASSERT_EQ(again.job_id(), three.job_id());
  ExpireLeases();
  ASSERT_TRUE(store_->Reap().ok());                 // b: lease_expired
  EXPECT_EQ(Sql(kept), Sql(recount));
  EXPECT_EQ(Sql("SELECT succeeded || '/' || failed FROM worker_totals WHERE worker_id = " + std::to_string(a)), "1/1");
  EXPECT_EQ(Sql("SELECT succeeded || '/' || failed FROM worker_totals WHERE worker_id = " + std::to_string(b)), "0/1");

  // An attempt moved to another worker, and one whose outcome is rewritten.
  Sql("UPDATE attempts SET worker_id = " + std::to_string(b) + " WHERE outcome = 'succeeded' RETURNING 1");
  Sql("UPDATE attempts SET outcome = 'cancelled' WHERE outcome = 'lease_expired' RETURNING 1");
  EXPECT_EQ(Sql(kept), Sql(recount));
  EXPECT_EQ(Sql("SELECT succeeded || '/' || failed FROM worker_totals WHERE worker_id = " + std::to_string(b)), "1/0");
  // A campaign deleted takes its jobs' attempts, and their counts, with it.
  Sql("DELETE FROM campaigns WHERE id = " + std::to_string(campaign) + " RETURNING 1");
  EXPECT_EQ(Sql("SELECT count(*) FROM attempts"), "0");
  EXPECT_EQ(Sql(kept), Sql(recount));
  EXPECT_EQ(Sql("SELECT sum(succeeded + failed) FROM worker_totals"), "0");
}

TEST_F(PgJobStoreTest, ConcurrentMigrationsSerialise) {
  TestDatabase fresh;
  ASSERT_TRUE(fresh.ok()) << fresh.error();
  std::vector<std::thread> threads;
  std::atomic<int> applied{0}, failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto n = ApplyMigrations(fresh.url());
      if (!n.ok()) failures++;
      else applied += *n;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(applied, static_cast<int>(EmbeddedMigrations().size()));
}

TEST_F(PgJobStoreTest, SubmitMaterialisesEveryJob) {
  SpecOptions o;
  o.budget = 10;
  const int64_t id = Submit(o);
  ASSERT_GT(id, 0);
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE campaign_id = " + std::to_string(id)), "10");
  EXPECT_EQ(Sql("SELECT count(DISTINCT combo_rank) FROM jobs"), "10");
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE cardinality(families) <> 2"), "0");
  auto st = store_->GetCampaign(id);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->response.campaign().pending(), 10);
  EXPECT_EQ(st->response.campaign().state(), moe4::v1::CAMPAIGN_STATE_ACTIVE);
  EXPECT_EQ(st->response.epochs_total(), 20);
  EXPECT_EQ(store_->GetCampaign(id + 1000).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PgJobStoreTest, LeaseClaimsOneJobAndIncrementsAttempt) {
  const int64_t c = Submit({});
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  EXPECT_EQ(a.campaign_id(), c);
  EXPECT_EQ(a.attempt(), 1);
  EXPECT_EQ(a.families_size(), 2);
  EXPECT_EQ(a.recipe().epochs(), 2);
  EXPECT_NE(a.recipe().seed(), 0u);
  EXPECT_EQ(a.dataset().name(), "synthetic");
  EXPECT_EQ(a.lease_seconds(), 60);
  EXPECT_EQ(a.resume_from_epoch(), 0);
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE state = 'leased'"), "1");
  EXPECT_EQ(Sql("SELECT attempt FROM jobs WHERE id = " + std::to_string(a.job_id())), "1");
  EXPECT_EQ(Sql("SELECT lease_owner FROM jobs WHERE id = " + std::to_string(a.job_id())), "test");
  // The next lease is a different job.
  auto b = Lease(w);
  EXPECT_NE(a.job_id(), b.job_id());
  EXPECT_EQ(store_->LeaseJob(9999, absl::Seconds(1)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PgJobStoreTest, LeaseOrdersByPriorityThenId) {
  SpecOptions low;
  low.name = "low";
  const int64_t c_low = Submit(low);
  SpecOptions high;
  high.name = "high";
  high.priority = 5;
  const int64_t c_high = Submit(high);
  const int64_t w = Worker("w1");
  EXPECT_EQ(Lease(w).campaign_id(), c_high);
  (void)c_low;
}

TEST_F(PgJobStoreTest, ConcurrentLeasesNeverDoubleLease) {
  SpecOptions o;
  o.families = {"AirNet", "AlexNet", "ResNet", "VGG", "DenseNet", "ConvNeXt", "DarkNet", "RegNet"};
  o.k = 3;
  o.budget = 56;
  Submit(o);
  constexpr int kThreads = 12;
  std::vector<int64_t> workers;
  for (int i = 0; i < kThreads; ++i) workers.push_back(Worker("w" + std::to_string(i)));
  std::mutex mu;
  std::vector<int64_t> leased;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (;;) {
        auto job = store_->LeaseJob(workers[i], absl::Seconds(60));
        if (!job.ok()) {
          errors++;
          return;
        }
        if (!job->has_value()) return;
        std::lock_guard<std::mutex> lock(mu);
        leased.push_back((*job)->job_id());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(leased.size(), 56u);
  EXPECT_EQ(std::set<int64_t>(leased.begin(), leased.end()).size(), 56u);
  EXPECT_EQ(Sql("SELECT max(attempt) FROM jobs"), "1");
}

TEST_F(PgJobStoreTest, DeviceRequirementsAreMatched) {
  SpecOptions o;
  o.device_kind = "cuda";
  o.min_memory_mb = 8000;
  const int64_t c = Submit(o);
  const int64_t cpu = Worker("cpu1", "cpu");
  const int64_t small = Worker("gpu-small", "cuda", 4000);
  auto none = store_->LeaseJob(cpu, absl::Seconds(60));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  none = store_->LeaseJob(small, absl::Seconds(60));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto st = store_->GetCampaign(c);
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->pending_ready.size(), 1u);
  EXPECT_EQ(st->pending_ready[0].count, 6);
  EXPECT_EQ(st->live_workers.size(), 2u);
  const int64_t big = Worker("gpu-big", "cuda", 24000);
  EXPECT_EQ(Lease(big).campaign_id(), c);
}

TEST_F(PgJobStoreTest, LeaseFitsTheFreeMemoryTheWorkerReports) {
  SpecOptions o;
  o.min_memory_mb = 3000;
  Submit(o);
  const int64_t gpu = Worker("gpu", "cuda", 24000);
  moe4::v1::LeaseRequest busy;
  busy.set_worker_id(gpu);
  busy.set_free_memory_mb(2000);  // other jobs hold the rest of the device
  auto none = store_->LeaseJob(busy, absl::Seconds(60));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  moe4::v1::LeaseRequest roomy = busy;
  roomy.set_free_memory_mb(100000);  // more than the device has: the device bounds it
  auto job = store_->LeaseJob(roomy, absl::Seconds(60));
  ASSERT_TRUE(job.ok() && job->has_value());
  EXPECT_EQ((*job)->min_memory_mb(), 3000);
}

TEST_F(PgJobStoreTest, OutOfMemoryFailureRaisesTheCombinationsMemoryNeed) {
  SpecOptions o;
  o.budget = 3;
  o.replicates = 2;  // two jobs per combination
  const int64_t c = Submit(o);
  const int64_t w = Worker("gpu", "cuda", 24000);
  auto a = Lease(w);
  const std::string combo = "(SELECT families FROM jobs WHERE id = " + std::to_string(a.job_id()) + ")";
  ASSERT_EQ(Sql("SELECT count(*) FROM jobs WHERE families = " + combo), "2");

  moe4::v1::FailRequest r;
  r.set_worker_id(w);
  r.set_job_id(a.job_id());
  r.set_attempt(a.attempt());
  r.set_reason("out of memory: needed more than 6143 MiB");
  r.set_retryable(true);
  r.set_kind(moe4::v1::FAILURE_KIND_OUT_OF_MEMORY);
  r.set_memory_needed_mb(6144);
  auto failed = store_->Fail(r);
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_TRUE(failed->will_retry);
  // The job and its pending replicate need 6144 MiB now; other combinations
  // are untouched.
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE min_memory_mb = 6144 AND families = " + combo), "2");
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE min_memory_mb = 0 AND campaign_id = " + std::to_string(c)),
            std::to_string(3 * 2 - 2));
  const std::string retry_event =
      Sql("SELECT detail FROM events WHERE kind = 'job_retry' AND job_id = " + std::to_string(a.job_id()));
  EXPECT_NE(retry_event.find("retryable=true out_of_memory memory_needed_mb=6144 reason=out of memory"),
            std::string::npos)
      << retry_event;

  // A worker with 4 GiB free never gets either job again; 8 GiB does.
  moe4::v1::LeaseRequest small;
  small.set_worker_id(w);
  small.set_free_memory_mb(4096);
  std::set<int64_t> leased;
  for (;;) {
    auto next = store_->LeaseJob(small, absl::Seconds(60));
    ASSERT_TRUE(next.ok()) << next.status();
    if (!next->has_value()) break;
    EXPECT_EQ((*next)->min_memory_mb(), 0);
    leased.insert((*next)->job_id());
  }
  EXPECT_EQ(leased.size(), 4u);
  EXPECT_EQ(leased.count(a.job_id()), 0u);
  moe4::v1::LeaseRequest big = small;
  big.set_free_memory_mb(8192);
  auto retry = store_->LeaseJob(big, absl::Seconds(60));
  ASSERT_TRUE(retry.ok() && retry->has_value());
  EXPECT_EQ((*retry)->min_memory_mb(), 6144);
}

TEST_F(PgJobStoreTest, EpochUpsertIsIdempotent) {
  Submit({});
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  ASSERT_TRUE(Report(w, a, 1, 0.4).ok());
  ASSERT_TRUE(Report(w, a, 1, 0.45).ok());  // re-sent: overwrites
  ASSERT_TRUE(Report(w, a, 2, 0.5).ok());
  const std::string job = std::to_string(a.job_id());
  EXPECT_EQ(Sql("SELECT count(*) FROM epochs WHERE job_id = " + job), "2");
  EXPECT_EQ(Sql("SELECT test_accuracy FROM epochs WHERE epoch = 1 AND job_id = " + job), "0.45");
  EXPECT_EQ(Sql("SELECT state FROM jobs WHERE id = " + job), "running");
  EXPECT_EQ(Sql("SELECT cardinality(gate_mean) FROM epochs WHERE epoch = 1 AND job_id = " + job),
            "2");
  // Bounds the store enforces: epoch beyond the recipe, wrong per-expert length.
  EXPECT_EQ(Report(w, a, 3).code(), absl::StatusCode::kInvalidArgument);
  moe4::v1::ReportEpochsRequest bad;
  bad.set_worker_id(w);
  bad.set_job_id(a.job_id());
  bad.set_attempt(a.attempt());
  *bad.add_epochs() = Epoch(1, 3);
  EXPECT_EQ(store_->ReportEpochs(bad, absl::Seconds(60)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PgJobStoreTest, FencingRejectsStaleAttempts) {
  SpecOptions o;
  o.budget = 1;
  Submit(o);
  const int64_t w1 = Worker("w1");
  const int64_t w2 = Worker("w2");
  auto first = Lease(w1);
  ASSERT_TRUE(Report(w1, first, 1).ok());
  ExpireLeases();
  auto reaped = store_->Reap();
  ASSERT_TRUE(reaped.ok()) << reaped.status();
  EXPECT_EQ(reaped->requeued, 1);
  auto second = Lease(w2);
  EXPECT_EQ(second.job_id(), first.job_id());
  EXPECT_EQ(second.attempt(), 2);
  EXPECT_EQ(second.resume_from_epoch(), 1);

  // The presumed-dead first worker comes back: every write is refused.
  EXPECT_EQ(Report(w1, first, 2).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Complete(w1, first).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Fail(w1, first, true).status().code(), absl::StatusCode::kFailedPrecondition);
  moe4::v1::HeartbeatRequest hb;
  hb.set_worker_id(w1);
  hb.set_job_id(first.job_id());
  hb.set_attempt(first.attempt());
  EXPECT_EQ(store_->Heartbeat(hb, absl::Seconds(60)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The right attempt from the wrong worker is refused too.
  auto forged = second;
  EXPECT_EQ(Complete(w1, forged).code(), absl::StatusCode::kFailedPrecondition);

  // The current holder's writes land; the re-run epoch 1 replaces the old row.
  ASSERT_TRUE(Report(w2, second, 1, 0.6).ok());
  ASSERT_TRUE(Report(w2, second, 2, 0.7).ok());
  ASSERT_TRUE(Complete(w2, second, 0.7).ok());
  const std::string job = std::to_string(first.job_id());
  EXPECT_EQ(Sql("SELECT count(*) FROM epochs WHERE job_id = " + job), "2");
  EXPECT_EQ(Sql("SELECT min(attempt) FROM epochs WHERE job_id = " + job), "2");
  EXPECT_EQ(Sql("SELECT outcome FROM attempts WHERE attempt = 1 AND job_id = " + job),
            "lease_expired");
  EXPECT_EQ(Sql("SELECT outcome FROM attempts WHERE attempt = 2 AND job_id = " + job),
            "succeeded");
}

TEST_F(PgJobStoreTest, CompleteCommitsResultStateAndCampaignTogether) {
  SpecOptions o;
  o.budget = 1;
  const int64_t c = Submit(o);
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  ASSERT_TRUE(Report(w, a, 1).ok());
  ASSERT_TRUE(Report(w, a, 2).ok());
  ASSERT_TRUE(Complete(w, a, 0.75).ok());
  const std::string job = std::to_string(a.job_id());
  EXPECT_EQ(Sql("SELECT state || ' ' || final_test_accuracy || ' ' || parameter_count FROM jobs "
                "WHERE id = " + job),
            "succeeded 0.75 1000");
  EXPECT_EQ(Sql("SELECT state FROM campaigns WHERE id = " + std::to_string(c)), "done");
  // A retried Complete (its reply was lost) succeeds without effect.
  EXPECT_TRUE(Complete(w, a, 0.1).ok());
  EXPECT_EQ(Sql("SELECT final_test_accuracy FROM jobs WHERE id = " + job), "0.75");
  auto lb = store_->Leaderboard(c, 10, false);
  ASSERT_TRUE(lb.ok()) << lb.status();
  ASSERT_EQ(lb->size(), 1u);
  EXPECT_EQ((*lb)[0].epochs_done(), 2);
  EXPECT_DOUBLE_EQ((*lb)[0].final_test_accuracy(), 0.75);
}

// The coordinator selects the epoch from the stored validation accuracies
// (earliest on ties) when a job completes; the test accuracy never selects:
// epoch 1 has the best test accuracy and is not chosen.
TEST_F(PgJobStoreTest, CompleteSelectsTheEpochByValidationAccuracy) {
  SpecOptions o;
  o.budget = 1;
  o.epochs = 3;
  const int64_t c = Submit(o);
  EXPECT_EQ(Sql("SELECT selection || ' ' || validation_fraction FROM campaigns"), "best_validation 0.1");
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  EXPECT_DOUBLE_EQ(a.dataset().validation_fraction(), 0.1);
  EXPECT_EQ(a.dataset().split_seed(), 7u);  // the campaign seed: one hold-out for every job
  ASSERT_TRUE(Report(w, a, 1, /*test=*/0.95, /*validation=*/0.5).ok());
  ASSERT_TRUE(Report(w, a, 2, 0.6, 0.7).ok());
  ASSERT_TRUE(Report(w, a, 3, 0.8, 0.7).ok());
  ASSERT_TRUE(Complete(w, a, 0.8).ok());
  const std::string job = std::to_string(a.job_id());
  EXPECT_EQ(Sql("SELECT selected_epoch || ' ' || selected_validation_accuracy || ' ' || selected_test_accuracy "
                "FROM jobs WHERE id = " + job),
            "2 0.7 0.6");
  EXPECT_EQ(Sql("SELECT validation_accuracy || ' ' || validation_loss FROM epochs WHERE epoch = 2 AND job_id = " + job),
            "0.7 0.6");
  auto got = store_->GetJob(a.job_id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->job().selected_epoch(), 2);
  EXPECT_DOUBLE_EQ(got->job().validation_accuracy(), 0.7);
  EXPECT_DOUBLE_EQ(got->job().selected_test_accuracy(), 0.6);
  ASSERT_EQ(got->epochs_size(), 3);
  EXPECT_DOUBLE_EQ(got->epochs(0).validation_accuracy(), 0.5);
  auto lb = store_->Leaderboard(c, 10, false);
  ASSERT_TRUE(lb.ok()) << lb.status();
  ASSERT_EQ(lb->size(), 1u);
  EXPECT_EQ((*lb)[0].selected_epoch(), 2);
  EXPECT_DOUBLE_EQ((*lb)[0].validation_accuracy(), 0.7);
  EXPECT_DOUBLE_EQ((*lb)[0].selected_test_accuracy(), 0.6);
  EXPECT_DOUBLE_EQ((*lb)[0].final_test_accuracy(), 0.8);
  EXPECT_EQ((*lb)[0].n(), 1);
  EXPECT_EQ(Sql("SELECT selected_epoch || ' ' || validation_accuracy || ' ' || selected_test_accuracy || ' ' || "
                "selection FROM v_leaderboard"),
            "2 0.7 0.6 best_validation");
}

// Without a validation split (selection: final) the last epoch is selected
// and no validation accuracy is claimed.
TEST_F(PgJobStoreTest, SelectionFinalTakesTheLastEpoch) {
  SpecOptions o;
  o.budget = 1;
  o.epochs = 2;
  o.validation_fraction = "0";
  const int64_t c = Submit(o);
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  moe4::v1::ReportEpochsRequest r;
  r.set_worker_id(w);
  r.set_job_id(a.job_id());
  r.set_attempt(a.attempt());
  for (int e = 1; e <= 2; ++e) {
    *r.add_epochs() = Epoch(e, a.families_size(), e == 1 ? 0.9 : 0.6);
    r.mutable_epochs(e - 1)->clear_validation_accuracy();
    r.mutable_epochs(e - 1)->clear_validation_loss();
  }
  ASSERT_TRUE(store_->ReportEpochs(r, absl::Seconds(60)).ok());
  ASSERT_TRUE(Complete(w, a, 0.6).ok());
  EXPECT_EQ(Sql("SELECT selected_epoch || ' ' || coalesce(selected_validation_accuracy::text, 'null') || ' ' || "
                "selected_test_accuracy FROM jobs"),
            "2 null 0.6");
  EXPECT_EQ(Sql("SELECT count(*) FROM epochs WHERE validation_accuracy IS NULL"), "2");
  auto lb = store_->Leaderboard(c, 10, false);
  ASSERT_TRUE(lb.ok()) << lb.status();
  ASSERT_EQ(lb->size(), 1u);
  EXPECT_TRUE(std::isnan((*lb)[0].validation_accuracy()));
  EXPECT_DOUBLE_EQ((*lb)[0].selected_test_accuracy(), 0.6);
}

// The leaderboard and the family and pair statistics rank by validation
// accuracy; by_final ranks by the final test accuracy.
TEST_F(PgJobStoreTest, RankingsFollowValidationNotTestAccuracy) {
  SpecOptions o;
  o.budget = 2;
  o.epochs = 1;
  o.families = {"AirNet", "AlexNet", "ResNet", "VGG"};
  const int64_t c = Submit(o);
  const int64_t w = Worker("w1");
  auto first = Lease(w);
  ASSERT_TRUE(Report(w, first, 1, /*test=*/0.5, /*validation=*/0.8).ok());
  ASSERT_TRUE(Complete(w, first, 0.5).ok());
  auto second = Lease(w);
  ASSERT_TRUE(Report(w, second, 1, 0.9, 0.6).ok());
  ASSERT_TRUE(Complete(w, second, 0.9).ok());
  auto lb = store_->Leaderboard(c, 10, false);
  ASSERT_TRUE(lb.ok()) << lb.status();
  ASSERT_EQ(lb->size(), 2u);
  EXPECT_EQ((*lb)[0].job_id(), first.job_id());
  auto by_final = store_->Leaderboard(c, 10, true);
  ASSERT_TRUE(by_final.ok()) << by_final.status();
  EXPECT_EQ((*by_final)[0].job_id(), second.job_id());
  EXPECT_EQ(Sql("SELECT job_id FROM v_leaderboard WHERE rank = 1"), std::to_string(first.job_id()));
  auto families = store_->FamilyStats(c);
  ASSERT_TRUE(families.ok()) << families.status();
  ASSERT_FALSE(families->empty());
  // The first job's families lead, by validation accuracy, with the test
  // accuracy at the selected epoch as the mean.
  EXPECT_DOUBLE_EQ(families->front().validation_mean(), 0.8);
  EXPECT_DOUBLE_EQ(families->front().mean(), 0.5);
  EXPECT_EQ(families->front().family(), first.families(0));
  auto pairs = store_->PairStats(c, 0.5);
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  ASSERT_EQ(pairs->size(), 2u);
  EXPECT_EQ(pairs->front().n_top(), 1);
  EXPECT_EQ(pairs->front().family_a(), first.families(0));
  EXPECT_DOUBLE_EQ(pairs->front().validation_mean(), 0.8);
}

// replicates: 2 runs each combination twice with different seeds; the
// leaderboard averages the runs (mean, sd, n) and the family statistics take
// the combination, not the run, as the unit.
TEST_F(PgJobStoreTest, ReplicatesGetTheirOwnSeedsAndStatisticsUseCombinationMeans) {
  SpecOptions o;
  o.families = {"AirNet", "AlexNet", "ResNet"};
  o.budget = 2;
  o.epochs = 1;
  o.replicates = 2;
  const int64_t c = Submit(o);
  EXPECT_EQ(Sql("SELECT count(*) || ' ' || count(DISTINCT combo_rank) || ' ' || count(DISTINCT seed) FROM jobs"),
            "4 2 4");
  const int64_t w = Worker("w1");
  // Replicate-major: both combinations once, then both again.
  auto c0r0 = Lease(w), c1r0 = Lease(w), c0r1 = Lease(w), c1r1 = Lease(w);
  ASSERT_EQ(std::vector<std::string>(c0r0.families().begin(), c0r0.families().end()),
            std::vector<std::string>(c0r1.families().begin(), c0r1.families().end()));
  EXPECT_NE(c0r0.recipe().seed(), c0r1.recipe().seed());  // two replicates, two seeds
  EXPECT_NE(c1r0.recipe().seed(), c1r1.recipe().seed());
  auto info = store_->GetJob(c0r1.job_id());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->job().replicate(), 1);
  EXPECT_EQ(info->job().seed(), c0r1.recipe().seed());

  ASSERT_TRUE(Report(w, c0r0, 1, 0.8).ok());
  ASSERT_TRUE(Complete(w, c0r0, 0.8).ok());
  ASSERT_TRUE(Report(w, c0r1, 1, 0.6).ok());
  ASSERT_TRUE(Complete(w, c0r1, 0.6).ok());
  ASSERT_TRUE(Report(w, c1r0, 1, 0.4).ok());
  ASSERT_TRUE(Complete(w, c1r0, 0.4).ok());
  ASSERT_TRUE(Fail(w, c1r1, /*retryable=*/false).ok());

  auto lb = store_->Leaderboard(c, 10, false);
  ASSERT_TRUE(lb.ok()) << lb.status();
  ASSERT_EQ(lb->size(), 2u);
  const auto& top = (*lb)[0];
  EXPECT_EQ(top.n(), 2);
  EXPECT_NEAR(top.validation_accuracy(), 0.7, 1e-12);
  EXPECT_NEAR(top.selected_test_accuracy(), 0.7, 1e-12);
  EXPECT_NEAR(top.selected_test_accuracy_sd(), std::sqrt(0.02), 1e-12);
  EXPECT_EQ(top.selected_epoch(), 0);  // one per replicate: shown per job
  ASSERT_EQ(top.job_ids_size(), 2);
  EXPECT_EQ(top.job_ids(0), c0r0.job_id());
  EXPECT_EQ(top.job_ids(1), c0r1.job_id());
  EXPECT_EQ((*lb)[1].n(), 1);
  EXPECT_TRUE(std::isnan((*lb)[1].selected_test_accuracy_sd()));

  // The family in both combinations: the mean of the two combination means
  // (0.7 and 0.4), not of the three runs (0.6).
  std::string shared;
  for (const auto& f : c0r0.families()) {
    for (const auto& g : c1r0.families()) {
      if (f == g) shared = f;
    }
  }
  ASSERT_FALSE(shared.empty());
  auto stats = store_->FamilyStats(c);
  ASSERT_TRUE(stats.ok()) << stats.status();
  bool found = false;
  for (const auto& f : *stats) {
    if (f.family() != shared) continue;
    found = true;
    EXPECT_EQ(f.n(), 2);
    EXPECT_EQ(f.runs(), 3);
    EXPECT_NEAR(f.mean(), 0.55, 1e-12);
    EXPECT_NEAR(f.std(), std::sqrt(0.045), 1e-12);
  }
  EXPECT_TRUE(found) << shared;
  EXPECT_EQ(Sql("SELECT round(mean::numeric, 4) FROM v_family_stats WHERE family = '" + shared + "'"), "0.5500");
  EXPECT_EQ(Sql("SELECT n || ' ' || round(selected_test_accuracy::numeric, 2) FROM v_combinations WHERE rank = 1"),
            "2 0.70");
  EXPECT_EQ(Sql("SELECT max(candidates) FROM v_coverage"), "2");  // combinations, not runs
  auto candidates = store_->Candidates(c);
  ASSERT_TRUE(candidates.ok());
  EXPECT_EQ(candidates->families.size(), 2u);
  auto pairs = store_->PairStats(c, 0.5);
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  int total = 0;
  for (const auto& p : *pairs) total += p.n();
  EXPECT_EQ(total, 2);  // one per combination
}

// E = T*H/(O+B) as the claim means it: +inf when O+B = 0 < T*H (and so
// "E >= 0.5"), undefined (NULL, with the reason) when O+B = 0 = T*H, and the
// same with the learned temperature beside it.
TEST_F(PgJobStoreTest, EcologyIsInfiniteOrUndefinedWhereItShouldBe) {
  struct Case {
    std::string recipe;
    double stored;  // what a worker reports (worker/train/metrics.h Ecology)
  };
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Case cases[] = {{", load_balance_weight: 0, entropy_weight: 0.1", inf},
                        {", load_balance_weight: 0, entropy_weight: 0", nan},
                        {", load_balance_weight: 0.5, entropy_weight: 0.1", 2.0 * 0.1 / 0.5}};
  std::vector<int64_t> campaigns;
  const int64_t w = Worker("w1");
  for (const Case& c : cases) {
    SpecOptions o;
    o.name = absl::StrCat("eco", campaigns.size());
    o.budget = 1;
    o.epochs = 1;
    o.recipe_extra = c.recipe;
    campaigns.push_back(Submit(o));
    auto a = Lease(w);
    moe4::v1::ReportEpochsRequest r;
    r.set_worker_id(w);
    r.set_job_id(a.job_id());
    r.set_attempt(a.attempt());
    *r.add_epochs() = Epoch(1, a.families_size(), 0.6);
    r.mutable_epochs(0)->set_ecology(c.stored);
    r.mutable_epochs(0)->set_temperature(1.5);  // learned
    ASSERT_TRUE(store_->ReportEpochs(r, absl::Seconds(60)).ok());
    ASSERT_TRUE(Complete(w, a, 0.6).ok());
  }
  auto infinite = store_->Ecology(campaigns[0]);
  ASSERT_TRUE(infinite.ok()) << infinite.status();
  ASSERT_EQ(infinite->size(), 1u);
  EXPECT_TRUE(std::isinf((*infinite)[0].ecology()) && (*infinite)[0].ecology() > 0);
  EXPECT_TRUE(std::isinf((*infinite)[0].ecology_learned()));
  EXPECT_EQ((*infinite)[0].ecology_undefined(), "");
  auto undefined = store_->Ecology(campaigns[1]);
  ASSERT_TRUE(undefined.ok()) << undefined.status();
  ASSERT_EQ(undefined->size(), 1u);
  EXPECT_TRUE(std::isnan((*undefined)[0].ecology()));
  EXPECT_TRUE(std::isnan((*undefined)[0].ecology_learned()));
  EXPECT_NE((*undefined)[0].ecology_undefined().find("O + B = 0 and T*H = 0"), std::string::npos);
  auto finite = store_->Ecology(campaigns[2]);
  ASSERT_TRUE(finite.ok()) << finite.status();
  ASSERT_EQ(finite->size(), 1u);
  EXPECT_DOUBLE_EQ((*finite)[0].ecology(), 0.4);                   // T = 2.0 as configured
  EXPECT_NEAR((*finite)[0].ecology_learned(), 1.5 * 0.1 / 0.5, 1e-12);  // the learned T
  EXPECT_EQ(Sql("SELECT ecology || ' ' || ecology_at_least_half FROM v_ecology WHERE campaign_id = " +
                std::to_string(campaigns[0])),
            "Infinity true");
  EXPECT_EQ(Sql("SELECT coalesce(ecology::text, 'null') || ' ' || coalesce(ecology_at_least_half::text, 'null') || "
                "' ' || ecology_undefined FROM v_ecology WHERE campaign_id = " + std::to_string(campaigns[1])),
            "null null O + B = 0 and T*H = 0: E = 0/0 (no balance, oracle or entropy term)");
  EXPECT_EQ(Sql("SELECT ecology_at_least_half FROM v_ecology WHERE campaign_id = " + std::to_string(campaigns[2])),
            "f");
}

// The per-expert per-class accuracies (K x C) and the specialisation go in
// through both report paths (one epoch: one statement; several: the
// transaction) and come back as sent; an old worker's epoch (none of them)
// reads as NULL; a table of the wrong shape is refused on either path.
TEST_F(PgJobStoreTest, PerClassAccuracyAndSpecialisationRoundTrip) {
  SpecOptions o;
  o.budget = 1;
  o.epochs = 3;
  Submit(o);
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  ASSERT_EQ(a.families_size(), 2);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto with_classes = [&](int epoch, double bits) {
    moe4::v1::EpochMetrics m = Epoch(epoch, 2, 0.6);
    m.set_num_classes(3);
    // Expert 1 never saw class 2 (NaN: no test image of it would be NaN too).
    for (double v : {0.9, 0.1, 0.5, 0.25, 1.0, nan}) m.add_expert_class_accuracy(v);
    m.set_specialisation_bits(bits);
    m.set_specialisation_normalised(bits / std::log2(3.0));
    return m;
  };
  auto request = [&](std::vector<moe4::v1::EpochMetrics> epochs) {
    moe4::v1::ReportEpochsRequest r;
    r.set_worker_id(w);
    r.set_job_id(a.job_id());
    r.set_attempt(a.attempt());
    for (auto& m : epochs) *r.add_epochs() = std::move(m);
    return r;
  };
  ASSERT_TRUE(store_->ReportEpochs(request({with_classes(1, 0.5)}), absl::Seconds(60)).ok());
  // Epoch 3 as an older worker sends it.
  ASSERT_TRUE(
      store_->ReportEpochs(request({with_classes(2, 0.75), Epoch(3, 2, 0.6)}), absl::Seconds(60)).ok());

  auto job = store_->GetJob(a.job_id());
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(job->epochs_size(), 3);
  for (int e = 0; e < 2; ++e) {
    const moe4::v1::EpochMetrics& m = job->epochs(e);
    SCOPED_TRACE(absl::StrCat("epoch ", m.epoch()));
    EXPECT_EQ(m.num_classes(), 3);
    ASSERT_EQ(m.expert_class_accuracy_size(), 6);
    EXPECT_DOUBLE_EQ(m.expert_class_accuracy(0), 0.9);
    EXPECT_DOUBLE_EQ(m.expert_class_accuracy(3), 0.25);  // expert 1, class 0: row-major
    EXPECT_TRUE(std::isnan(m.expert_class_accuracy(5)));
    ASSERT_TRUE(m.has_specialisation_bits());
    EXPECT_DOUBLE_EQ(m.specialisation_bits(), e == 0 ? 0.5 : 0.75);
    EXPECT_NEAR(m.specialisation_normalised(), m.specialisation_bits() / std::log2(3.0), 1e-15);
  }
  EXPECT_EQ(job->epochs(2).num_classes(), 0);
  EXPECT_EQ(job->epochs(2).expert_class_accuracy_size(), 0);
  EXPECT_FALSE(job->epochs(2).has_specialisation_bits());
  EXPECT_FALSE(job->epochs(2).has_specialisation_normalised());

  // In SQL: a K x C array, indexed [expert][class], 1-based.
  const std::string job_id = std::to_string(a.job_id());
  EXPECT_EQ(Sql("SELECT array_dims(expert_class_accuracy) || ' ' || expert_class_accuracy[2][1] || ' ' || "
                "expert_class_accuracy[2][3] || ' ' || specialisation_bits FROM v_epochs WHERE epoch = 2 AND job_id = " +
                job_id),
            "[1:2][1:3] 0.25 NaN 0.75");
  // The last epoch came from an old worker: NULL in v_ecology, NaN from Ecology().
  EXPECT_EQ(Sql("SELECT coalesce(specialisation_bits::text, 'null') || ' ' || "
                "coalesce(expert_class_accuracy::text, 'null') FROM v_ecology WHERE job_id = " + job_id),
            "null null");
  ASSERT_TRUE(store_->ReportEpochs(request({with_classes(3, 1.0)}), absl::Seconds(60)).ok());
  ASSERT_TRUE(Complete(w, a, 0.6).ok());
  auto points = store_->Ecology(a.campaign_id());
  ASSERT_TRUE(points.ok()) << points.status();
  ASSERT_EQ(points->size(), 1u);
  EXPECT_DOUBLE_EQ((*points)[0].specialisation_bits(), 1.0);
  EXPECT_NEAR((*points)[0].specialisation_normalised(), 1.0 / std::log2(3.0), 1e-15);
}

TEST_F(PgJobStoreTest, PerClassAccuracyOfTheWrongShapeIsRefused) {
  Submit({});
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  struct Case {
    const char* name;
    int num_classes;
    int values;
  };
  // K = 2 experts.
  const Case cases[] = {{"not a multiple of num_classes", 3, 5},
                        {"no num_classes", 0, 4},
                        {"one row for two experts", 4, 4},
                        {"three rows for two experts", 2, 6}};
  for (const Case& c : cases) {
    for (int epochs : {1, 2}) {  // the one-statement path and the transaction
      SCOPED_TRACE(absl::StrCat(c.name, ", ", epochs, " epoch(s) in the report"));
      moe4::v1::ReportEpochsRequest r;
      r.set_worker_id(w);
      r.set_job_id(a.job_id());
      r.set_attempt(a.attempt());
      for (int e = 1; e <= epochs; ++e) {
        moe4::v1::EpochMetrics* m = r.add_epochs();
        *m = Epoch(e, 2, 0.5);
        m->set_num_classes(c.num_classes);
        for (int i = 0; i < c.values; ++i) m->add_expert_class_accuracy(0.5);
      }
      const absl::Status s = store_->ReportEpochs(r, absl::Seconds(60)).status();
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
      EXPECT_NE(s.message().find("per-class accuracies"), absl::string_view::npos) << s;
    }
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM epochs WHERE job_id = " + std::to_string(a.job_id())), "0");
}

// Attrition: AirNet always fails (out of memory). With refill each failed
// combination is replaced by one chosen to keep the evaluated set
// stratified, so the campaign still evaluates its budget, the other
// families' evaluated counts stay within the bounds the pool allows, and the
// failing family is reported with its failures by reason.
TEST_F(PgJobStoreTest, RefillKeepsTheEvaluatedSetStratifiedWhenAFamilyAlwaysFails) {
  SpecOptions o;
  o.families = {"AirNet", "AlexNet", "BagNet", "DenseNet", "ResNet", "VGG"};
  o.k = 2;
  o.budget = 6;
  o.epochs = 1;
  o.refill = true;
  const int64_t c = Submit(o);
  const int64_t w = Worker("w1");
  int leased = 0;
  for (;;) {
    auto job = store_->LeaseJob(w, absl::Seconds(60));
    ASSERT_TRUE(job.ok()) << job.status();
    if (!job->has_value()) break;
    const auto a = **job;
    ASSERT_LT(++leased, 50) << "refill does not end";
    if (a.families(0) == "AirNet") {
      moe4::v1::FailRequest r;
      r.set_worker_id(w);
      r.set_job_id(a.job_id());
      r.set_attempt(a.attempt());
      r.set_reason("out of memory: CUDA");
      r.set_retryable(false);
      ASSERT_TRUE(store_->Fail(r).ok());
      continue;
    }
    ASSERT_TRUE(Report(w, a, 1, 0.6).ok());
    ASSERT_TRUE(Complete(w, a, 0.6).ok());
  }
  EXPECT_EQ(Sql("SELECT state FROM campaigns WHERE id = " + std::to_string(c)), "done");
  auto candidates = store_->Candidates(c);
  ASSERT_TRUE(candidates.ok()) << candidates.status();
  moe4::v1::CoverageResponse coverage = CoverageOf(candidates->pool, candidates->k, candidates->families);
  AddAttrition(*candidates, &coverage);
  EXPECT_TRUE(coverage.refill());
  EXPECT_EQ(coverage.evaluated_candidates(), 6);  // the budget, despite the failures
  EXPECT_EQ(coverage.failed_candidates(), coverage.refills());
  EXPECT_GE(coverage.refills(), 2);
  EXPECT_EQ(Sql("SELECT count(*) FROM events WHERE kind = 'combination_refilled'"),
            std::to_string(coverage.refills()));
  int low = 100, high = 0;
  for (const auto& f : coverage.families()) {
    if (f.family() == "AirNet") {
      EXPECT_EQ(f.evaluated(), 0);
      EXPECT_GE(f.failed(), 2);
      EXPECT_EQ(f.failures().at("out of memory: CUDA"), f.failed());
      EXPECT_FALSE(f.within_bounds());
      continue;
    }
    low = std::min(low, f.evaluated());
    high = std::max(high, f.evaluated());
    // 6 combinations x 2 slots over the 5 families that can give results.
    EXPECT_TRUE(f.within_bounds()) << f.family() << " evaluated " << f.evaluated();
    EXPECT_GE(f.evaluated(), 2) << f.family();
    EXPECT_LE(f.evaluated(), 3) << f.family();
  }
  EXPECT_LE(high - low, 1);
  EXPECT_EQ(Sql("SELECT evaluated || ' ' || failed FROM v_coverage WHERE family = 'AirNet'"),
            "0 " + std::to_string(coverage.families(0).failed()));
}

// With refill off nothing is replaced: the failed family's share is lost,
// and coverage says so.
TEST_F(PgJobStoreTest, WithoutRefillFailedCombinationsAreNotReplaced) {
  SpecOptions o;
  o.families = {"AirNet", "AlexNet", "BagNet"};
  o.budget = 3;
  o.epochs = 1;
  o.refill = false;  // (the helper's default too; the spec's is true)
  const int64_t c = Submit(o);
  const int64_t w = Worker("w1");
  for (int i = 0; i < 3; ++i) {
    auto a = Lease(w);
    if (a.families(0) == "AirNet") {
      ASSERT_TRUE(Fail(w, a, /*retryable=*/false).ok());
    } else {
      ASSERT_TRUE(Report(w, a, 1, 0.6).ok());
      ASSERT_TRUE(Complete(w, a, 0.6).ok());
    }
  }
  EXPECT_EQ(Sql("SELECT state || ' ' || refills FROM campaigns WHERE id = " + std::to_string(c)), "done 0");
  auto candidates = store_->Candidates(c);
  ASSERT_TRUE(candidates.ok());
  EXPECT_FALSE(candidates->refill);
  EXPECT_EQ(candidates->families.size(), 3u);
}

TEST_F(PgJobStoreTest, CompleteIsRefusedUntilEveryEpochIsStored) {
  SpecOptions o;
  o.budget = 1;
  o.epochs = 3;
  const int64_t c = Submit(o);
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  const std::string job = std::to_string(a.job_id());
  EXPECT_EQ(Complete(w, a).code(), absl::StatusCode::kFailedPrecondition);  // no epoch at all
  ASSERT_TRUE(Report(w, a, 1).ok());
  ASSERT_TRUE(Report(w, a, 3).ok());
  const absl::Status gap = Complete(w, a);  // epoch 2 is missing
  EXPECT_EQ(gap.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(gap.message().find("2 of its 3 epochs are stored"), std::string::npos) << gap;
  EXPECT_EQ(Sql("SELECT state FROM jobs WHERE id = " + job), "running");
  EXPECT_EQ(Sql("SELECT state FROM campaigns WHERE id = " + std::to_string(c)), "active");
  ASSERT_TRUE(Report(w, a, 2).ok());
  ASSERT_TRUE(Complete(w, a).ok());
  EXPECT_EQ(Sql("SELECT state FROM jobs WHERE id = " + job), "succeeded");
}

TEST_F(PgJobStoreTest, CompleteRollsBackWhenTheTransactionFails) {
  SpecOptions o;
  o.budget = 1;
  Submit(o);
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  ASSERT_TRUE(Report(w, a, 1).ok());
  ASSERT_TRUE(Report(w, a, 2).ok());
  // Sabotage the last statement of the Complete transaction (the attempts
  // update) so that it fails after the job row was updated.
  QueryOne(db_.url(),
           "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
           "RAISE EXCEPTION 'sabotage'; END $$; "
           "CREATE TRIGGER boom BEFORE UPDATE ON attempts FOR EACH ROW EXECUTE FUNCTION boom(); "
           "SELECT 1");
  EXPECT_FALSE(Complete(w, a).ok());
  const std::string job = std::to_string(a.job_id());
  EXPECT_EQ(Sql("SELECT state FROM jobs WHERE id = " + job), "running");
  EXPECT_EQ(Sql("SELECT final_test_accuracy FROM jobs WHERE id = " + job), "");
  QueryOne(db_.url(), "DROP TRIGGER boom ON attempts; SELECT 1");
  EXPECT_TRUE(Complete(w, a).ok());
  EXPECT_EQ(Sql("SELECT state FROM jobs WHERE id = " + job), "succeeded");
}

TEST_F(PgJobStoreTest, ExtendHeldLeasesOnlyLengthensShortLeases) {
  SpecOptions o;
  o.budget = 2;
  Submit(o);
  const int64_t w = Worker("w1");
  auto a = Lease(w);  // 60 s lease; the other job stays pending
  const std::string job = std::to_string(a.job_id());
  auto none = store_->ExtendHeldLeases(absl::Seconds(30));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, 0) << "a lease longer than the grace was shortened or touched";
  ExpireLeases();
  auto one = store_->ExtendHeldLeases(absl::Seconds(30));
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(*one, 1);
  EXPECT_EQ(Sql("SELECT lease_deadline BETWEEN now() + interval '25 s' AND now() + interval '35 s' "
                "FROM jobs WHERE id = " + job),
            "t");
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE lease_deadline IS NOT NULL"), "1");
  auto r = store_->Reap();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->requeued, 0);
  EXPECT_EQ(Sql("SELECT state FROM jobs WHERE id = " + job), "leased");
}

// A coordinator restarting in a loop grants start-up grace each time. A dead
// worker never heartbeats, so its lease must be graced once and then run out;
// a live worker's lease is graced again after it was heard from.
TEST_F(PgJobStoreTest, GraceIsGivenOncePerSilenceOfTheWorker) {
  SpecOptions o;
  o.budget = 2;
  Submit(o);
  const int64_t dead = Worker("dead");
  const int64_t alive = Worker("alive");
  auto a_dead = Lease(dead);
  auto a_alive = Lease(alive);
  ExpireLeases();
  auto first = store_->ExtendHeldLeases(absl::Seconds(30));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 2) << "both leases ran out while no coordinator ran: both get grace";

  // The live worker heartbeats; the dead one stays silent. Both leases run
  // out again, and the coordinator restarts.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // last_seen after graced_at
  moe4::v1::HeartbeatRequest hb;
  hb.set_worker_id(alive);
  hb.set_job_id(a_alive.job_id());
  hb.set_attempt(a_alive.attempt());
  ASSERT_TRUE(store_->Heartbeat(hb, absl::Seconds(60)).ok());
  ExpireLeases();
  auto second = store_->ExtendHeldLeases(absl::Seconds(30));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 1) << "only the lease of the worker heard from since may get grace again";
  auto reaped = store_->Reap();
  ASSERT_TRUE(reaped.ok()) << reaped.status();
  EXPECT_EQ(reaped->requeued, 1);
  EXPECT_EQ(Sql("SELECT state FROM jobs WHERE id = " + std::to_string(a_dead.job_id())), "pending");
  EXPECT_EQ(Sql("SELECT state FROM jobs WHERE id = " + std::to_string(a_alive.job_id())), "leased");
}

TEST_F(PgJobStoreTest, ReaperGivesGraceWhenItStartsThenReapsDeadWorkers) {
  SpecOptions o;
  o.budget = 1;
  Submit(o);
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  const std::string job = std::to_string(a.job_id());
  // The lease ran out while no coordinator was running: the worker could not
  // heartbeat, which says nothing about whether it is alive.
  ExpireLeases();
  Metrics metrics;
  LeaseReaper reaper(*store_, metrics, absl::Milliseconds(50), absl::Seconds(30));
  reaper.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // ~8 sweeps
  EXPECT_EQ(Sql("SELECT state FROM jobs WHERE id = " + job), "leased")
      << "the job was taken from a worker that had no chance to heartbeat";
  // Once the coordinator is up, a lease that runs out again is a dead worker.
  ExpireLeases();
  std::string state;
  for (int i = 0; i < 100 && state != "pending"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    state = Sql("SELECT state FROM jobs WHERE id = " + job);
  }
  reaper.Stop();
  EXPECT_EQ(state, "pending");
}

TEST_F(PgJobStoreTest, ReaperRequeuesExpiredLeasesThenFails) {
  SpecOptions o;
  o.budget = 1;
  o.max_attempts = 2;
  const int64_t c = Submit(o);
  const int64_t w = Worker("w1");
  Lease(w);
  ExpireLeases();
  auto r = store_->Reap();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->requeued, 1);
  EXPECT_EQ(Sql("SELECT state FROM jobs"), "pending");
  EXPECT_EQ(Lease(w).attempt(), 2);
  ExpireLeases();
  r = store_->Reap();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(Sql("SELECT state || ': ' || error FROM jobs"), "failed: lease expired 2 times");
  EXPECT_EQ(Sql("SELECT state FROM campaigns WHERE id = " + std::to_string(c)), "done");
  EXPECT_EQ(Sql("SELECT count(*) FROM events WHERE kind = 'lease_expired'"), "1");
  // A lease that has not expired is left alone.
  SpecOptions o2;
  o2.name = "other";
  o2.budget = 1;
  Submit(o2);
  Lease(w);
  r = store_->Reap();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->requeued + r->failed, 0);
}

TEST_F(PgJobStoreTest, RetryableFailureBacksOffUntilMaxAttempts) {
  SpecOptions o;
  o.budget = 1;
  o.max_attempts = 2;
  Submit(o);
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  auto f = Fail(w, a, /*retryable=*/true);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->will_retry);
  // A retried Fail is harmless.
  f = Fail(w, a, true);
  ASSERT_TRUE(f.ok()) << f.status();
  auto b = Lease(w);
  EXPECT_EQ(b.attempt(), 2);
  f = Fail(w, b, true);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->will_retry);
  EXPECT_EQ(Sql("SELECT state || ': ' || error FROM jobs"), "failed: boom (attempt 2 of 2)");
}

TEST_F(PgJobStoreTest, RetryBackoffDelaysTheNextLease) {
  PgJobStoreOptions so;
  so.backoff_base = absl::Seconds(30);
  PgJobStore slow(*pool_, so);
  SpecOptions o;
  o.budget = 1;
  Submit(o);
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  moe4::v1::FailRequest r;
  r.set_worker_id(w);
  r.set_job_id(a.job_id());
  r.set_attempt(a.attempt());
  r.set_reason("transient");
  r.set_retryable(true);
  ASSERT_TRUE(slow.Fail(r).ok());
  auto none = store_->LeaseJob(w, absl::Seconds(60));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "leased during backoff";
  EXPECT_EQ(Sql("SELECT not_before > now() + interval '25 seconds' FROM jobs"), "t");
}

TEST_F(PgJobStoreTest, NonRetryableFailureFailsAtOnce) {
  SpecOptions o;
  o.budget = 1;
  Submit(o);
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  auto f = Fail(w, a, /*retryable=*/false);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->will_retry);
  EXPECT_EQ(Sql("SELECT state || ': ' || error FROM jobs"), "failed: boom");
}

TEST_F(PgJobStoreTest, MaxJobSecondsIsEnforcedSeparatelyFromLiveness) {
  SpecOptions o;
  o.budget = 1;
  o.max_job_seconds = 5;
  Submit(o);
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  // Heartbeats keep the lease alive, but the attempt has run too long.
  QueryOne(db_.url(),
           "UPDATE jobs SET attempt_started_at = now() - interval '10 seconds' RETURNING id");
  auto r = store_->Reap();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->timed_out, 1);
  EXPECT_EQ(Sql("SELECT state || ': ' || error FROM jobs"), "failed: exceeded max_job_seconds=5");
  moe4::v1::HeartbeatRequest hb;
  hb.set_worker_id(w);
  hb.set_job_id(a.job_id());
  hb.set_attempt(a.attempt());
  auto h = store_->Heartbeat(hb, absl::Seconds(60));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_TRUE(h->cancel);
}

TEST_F(PgJobStoreTest, HeartbeatExtendsTheLeaseAndRecordsProgress) {
  Submit({});
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  QueryOne(db_.url(), "UPDATE jobs SET lease_deadline = now() + interval '1 second' RETURNING id");
  moe4::v1::HeartbeatRequest hb;
  hb.set_worker_id(w);
  hb.set_job_id(a.job_id());
  hb.set_attempt(a.attempt());
  hb.set_epoch(2);
  hb.set_step(17);
  auto h = store_->Heartbeat(hb, absl::Seconds(60));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_FALSE(h->cancel);
  EXPECT_GT(h->lease_deadline_unix_ms, absl::ToUnixMillis(absl::Now() + absl::Seconds(50)));
  const std::string job = std::to_string(a.job_id());
  EXPECT_EQ(Sql("SELECT progress_epoch || '/' || progress_step || ' ' || state FROM jobs WHERE "
                "id = " + job),
            "2/17 running");
  // Idle heartbeat.
  moe4::v1::HeartbeatRequest idle;
  idle.set_worker_id(w);
  EXPECT_TRUE(store_->Heartbeat(idle, absl::Seconds(60)).ok());
}

// A worker heartbeats from one thread while it reports epochs from another,
// for the same job. Both lock the job row and the worker row; taken in
// opposite orders they deadlock, and Postgres aborts one of them. With no
// retries allowed, any deadlock shows up here as an error.
TEST_F(PgJobStoreTest, ConcurrentHeartbeatAndReportNeverDeadlock) {
  PgPoolOptions po;
  po.conninfo = db_.url();
  po.size = 4;
  po.max_retries = 0;
  PgPool strict_pool(po);
  PgJobStoreOptions so;
  so.instance_id = "strict";
  PgJobStore strict(strict_pool, so);
  SpecOptions o;
  o.epochs = 2;
  Submit(o);
  const int64_t w = Worker("w1");
  const auto a = Lease(w);
  constexpr int kRounds = 300;
  std::atomic<int> heartbeat_errors{0}, report_errors{0};
  std::atomic<bool> failed{false};  // a deadlock costs a second: stop at the first
  std::string first_error;
  std::mutex mu;
  auto note = [&](const absl::Status& s, std::atomic<int>& count) {
    if (s.ok()) return;
    count++;
    failed = true;
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.empty()) first_error = s.ToString();
  };
  std::thread heartbeats([&] {
    moe4::v1::HeartbeatRequest hb;
    hb.set_worker_id(w);
    hb.set_job_id(a.job_id());
    hb.set_attempt(a.attempt());
    hb.set_epoch(1);
    for (int i = 0; i < kRounds && !failed; ++i) {
      hb.set_step(i);
      note(strict.Heartbeat(hb, absl::Seconds(60)).status(), heartbeat_errors);
    }
  });
  std::thread reports([&] {
    moe4::v1::ReportEpochsRequest r;
    r.set_worker_id(w);
    r.set_job_id(a.job_id());
    r.set_attempt(a.attempt());
    *r.add_epochs() = Epoch(1, a.families_size(), 0.5);
    for (int i = 0; i < kRounds && !failed; ++i) {
      note(strict.ReportEpochs(r, absl::Seconds(60)).status(), report_errors);
    }
  });
  heartbeats.join();
  reports.join();
  EXPECT_EQ(heartbeat_errors + report_errors, 0) << first_error;
  EXPECT_EQ(Sql("SELECT count(*) FROM epochs WHERE job_id = " + std::to_string(a.job_id())), "1");
}

TEST_F(PgJobStoreTest, CancelStopsHeldJobsAndPendingOnes) {
  const int64_t c = Submit({});
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  auto n = store_->CancelCampaign(c);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 6);
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE state = 'cancelled'"), "6");
  moe4::v1::HeartbeatRequest hb;
  hb.set_worker_id(w);
  hb.set_job_id(a.job_id());
  hb.set_attempt(a.attempt());
  auto h = store_->Heartbeat(hb, absl::Seconds(60));
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->cancel);
  EXPECT_EQ(Complete(w, a).code(), absl::StatusCode::kFailedPrecondition);
  auto none = store_->LeaseJob(w, absl::Seconds(60));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(store_->CancelCampaign(c).value_or(-1), 0);  // idempotent
}

TEST_F(PgJobStoreTest, PauseRequeuesHeldJobsWithoutChargingAnAttempt) {
  SpecOptions o;
  o.budget = 2;
  o.max_attempts = 1;
  const int64_t c = Submit(o);
  const int64_t w = Worker("w1");
  auto a = Lease(w);
  ASSERT_TRUE(store_->PauseCampaign(c).ok());
  auto none = store_->LeaseJob(w, absl::Seconds(60));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "a paused campaign handed out a job";
  moe4::v1::HeartbeatRequest hb;
  hb.set_worker_id(w);
  hb.set_job_id(a.job_id());
  hb.set_attempt(a.attempt());
  auto h = store_->Heartbeat(hb, absl::Seconds(60));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_TRUE(h->cancel);
  auto st = store_->GetCampaign(c);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, moe4::v1::CAMPAIGN_STATE_PAUSED);
  ASSERT_TRUE(store_->ResumeCampaign(c).ok());
  // max_attempts was 1, yet the job runs again: the pause did not use it up.
  auto again = Lease(w);
  EXPECT_EQ(again.job_id(), a.job_id());
  EXPECT_EQ(again.attempt(), 2);
}

TEST_F(PgJobStoreTest, ViewsAnswerAndTheReaderRoleCannotWrite) {
  SpecOptions o;
  o.budget = 4;
  o.epochs = 1;
  const int64_t c = Submit(o);
  const int64_t w = Worker("w1");
  for (int i = 0; i < 4; ++i) {
    auto a = Lease(w);
    ASSERT_TRUE(Report(w, a, 1, 0.5 + 0.05 * i).ok());
    ASSERT_TRUE(Complete(w, a, 0.5 + 0.05 * i).ok());
  }
  const std::string cid = std::to_string(c);
  EXPECT_EQ(Sql("SELECT count(*) FROM v_leaderboard WHERE campaign_id = " + cid), "4");
  EXPECT_EQ(Sql("SELECT rank FROM v_leaderboard WHERE final_test_accuracy = 0.65"), "1");
  EXPECT_EQ(Sql("SELECT sum(n) FROM v_family_stats WHERE campaign_id = " + cid), "8");
  EXPECT_EQ(Sql("SELECT count(*) FROM v_coverage WHERE campaign_id = " + cid), "5");
  EXPECT_EQ(Sql("SELECT sum(count) FROM v_coverage WHERE campaign_id = " + cid), "8");
  EXPECT_EQ(Sql("SELECT count(*) FROM v_epochs WHERE campaign_id = " + cid), "4");
  EXPECT_EQ(Sql("SELECT count(*) FROM v_ecology WHERE all_alive"), "4");
  EXPECT_NE(Sql("SELECT count(*) FROM v_pair_stats"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM v_combinations WHERE campaign_id = " + cid), "4");
  EXPECT_EQ(Sql("SELECT count(*) FROM v_family_ranks WHERE campaign_id = " + cid), "5");
  EXPECT_EQ(Sql("SELECT min(rank) || '..' || max(rank) FROM v_family_ranks WHERE campaign_id = " + cid), "1..5");

  auto stats = store_->FamilyStats(c);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_FALSE(stats->empty());

  pqxx::connection conn(db_.url());
  {
    pqxx::work txn(conn);
    txn.exec("SET ROLE moe4_reader");
    EXPECT_EQ(txn.exec("SELECT count(*) FROM v_leaderboard")[0][0].as<int>(), 4);
    EXPECT_EQ(txn.exec("SELECT count(*) FROM v_epochs")[0][0].as<int>(), 4);
    EXPECT_EQ(txn.exec("SELECT count(*) FROM v_combinations")[0][0].as<int>(), 4);
    EXPECT_EQ(txn.exec("SELECT count(*) FROM v_family_ranks")[0][0].as<int>(), 5);
    txn.commit();
  }
  for (const char* sql : {"SELECT count(*) FROM jobs", "UPDATE jobs SET state = 'failed'",
                          "INSERT INTO events (kind) VALUES ('x')", "DELETE FROM epochs",
                          "CREATE TABLE sneaky (x int)"}) {
    pqxx::work txn(conn);
    txn.exec("SET ROLE moe4_reader");
    EXPECT_THROW(txn.exec(sql), pqxx::insufficient_privilege) << sql;
  }
}

TEST_F(PgJobStoreTest, PingAndCounts) {
  EXPECT_TRUE(store_->Ping().ok());
  Submit({});
  auto counts = store_->CountJobsByState();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)["pending"], 6);
}

}  // namespace
}  // namespace moe4::coordinator
