// asha campaigns on PgJobStore against a real PostgreSQL: rungs, promotion,
// stopping, checkpoint affinity, the epoch audit across rungs, and two
// stores (two coordinators) deciding promotions on one database at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/schedule.h"
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

class AshaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << db_.error();
    auto applied = ApplyMigrations(db_.url());
    ASSERT_TRUE(applied.ok()) << applied.status();
    store_ = NewStore("test-a");
  }

  std::unique_ptr<PgJobStore> NewStore(const std::string& instance,
                                       absl::Duration affinity = absl::Seconds(60)) {
    PgPoolOptions po;
    po.conninfo = db_.url();
    po.size = 8;
    pools_.push_back(std::make_unique<PgPool>(po));
    PgJobStoreOptions so;
    so.instance_id = instance;
    so.backoff_base = absl::ZeroDuration();
    so.backoff_max = absl::ZeroDuration();
    so.checkpoint_affinity = affinity;
    return std::make_unique<PgJobStore>(*pools_.back(), so);
  }

  // budget combinations of the 5-family pool, K = 2, rungs 1, 3, 9 (eta 3).
  int64_t SubmitAsha(int budget, const std::string& schedule = "{kind: asha, min_epochs: 1, reduction_factor: 3}",
                     int epochs = 9) {
    SpecOptions o;
    o.budget = budget;
    o.epochs = epochs;
    o.schedule = schedule;
    auto plan = PlanCampaign(SpecYaml(o), SpecLimits{});
    EXPECT_TRUE(plan.ok()) << plan.status();
    if (!plan.ok()) return 0;
    auto id = store_->CreateCampaign(*plan);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  int64_t Worker(const std::string& name) {
    moe4::v1::RegisterRequest r;
    r.set_name(name);
    r.set_device_kind("cpu");
    auto id = store_->RegisterWorker(r);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  std::optional<moe4::v1::JobAssignment> TryLease(PgJobStore& store, int64_t worker) {
    auto job = store.LeaseJob(worker, absl::Seconds(60));
    EXPECT_TRUE(job.ok()) << job.status();
    if (!job.ok()) return std::nullopt;
    return *job;
  }

  absl::Status Report(PgJobStore& store, int64_t worker, const moe4::v1::JobAssignment& a, int epoch,
                      double validation) {
    moe4::v1::ReportEpochsRequest r;
    r.set_worker_id(worker);
    r.set_job_id(a.job_id());
    r.set_attempt(a.attempt());
    *r.add_epochs() = Epoch(epoch, a.families_size(), validation - 0.05, validation);
    return store.ReportEpochs(r, absl::Seconds(60)).status();
  }

  absl::Status Complete(PgJobStore& store, int64_t worker, const moe4::v1::JobAssignment& a) {
    moe4::v1::CompleteRequest r;
    r.set_worker_id(worker);
    r.set_job_id(a.job_id());
    r.set_attempt(a.attempt());
    r.set_final_test_accuracy(0.5);
    r.set_best_test_accuracy(0.5);
    r.set_parameter_count(1000);
    r.set_train_seconds(1);
    return store.Complete(r);
  }

  // Trains the leased rung: epochs resume+1..stop_after_epoch, each with
  // validation accuracy `validation`, then completes.
  void TrainRung(PgJobStore& store, int64_t worker, const moe4::v1::JobAssignment& a, double validation) {
    ASSERT_GT(a.stop_after_epoch(), 0);
    for (int e = a.resume_from_epoch() + 1; e <= a.stop_after_epoch(); ++e) {
      ASSERT_TRUE(Report(store, worker, a, e, validation).ok());
    }
    ASSERT_TRUE(Complete(store, worker, a).ok());
  }

  std::string Sql(const std::string& q) { return QueryOne(db_.url(), q); }

  // Every job's stored epochs are exactly 1..n (no gap, no duplicate: the
  // key forbids duplicates), n being what its last rung reached.
  void ExpectCleanEpochAudit(int64_t campaign) {
    EXPECT_EQ(Sql(absl::StrCat(
                  "SELECT count(*) FROM jobs j WHERE j.campaign_id = ", campaign,
                  " AND ((SELECT count(*) FROM epochs e WHERE e.job_id = j.id) <> "
                  "        coalesce((SELECT max(epoch) FROM epochs e WHERE e.job_id = j.id), 0) "
                  "   OR (SELECT count(*) FROM epochs e WHERE e.job_id = j.id) <> "
                  "        coalesce((SELECT max(r.epochs) FROM rung_results r WHERE r.job_id = j.id), 0))")),
              "0");
  }

  TestDatabase db_;
  std::vector<std::unique_ptr<PgPool>> pools_;
  std::unique_ptr<PgJobStore> store_;
};

TEST_F(AshaStoreTest, RungsPromoteTheTopThirdStopTheRestAndKeepTheAudit) {
  const int64_t c = SubmitAsha(9);
  ASSERT_GT(c, 0);
  EXPECT_EQ(Sql(absl::StrCat("SELECT schedule || ' ' || array_to_string(rung_epochs, ',') || ' ' || epochs "
                             "FROM campaigns WHERE id = ", c)),
            "asha 1,3,9 9");
  // One worker per rung-0 candidate: a promoted job is kept for the worker
  // holding its checkpoint, so the others keep leasing rung 0.
  std::vector<int64_t> workers;
  for (int i = 0; i < 9; ++i) workers.push_back(Worker(absl::StrCat("w", i)));
  // Rung 0: nine candidates, each one epoch; the earlier ones score higher,
  // so the promoted set is exactly the first, then the first two, ...
  std::vector<int64_t> order;
  for (int i = 0; i < 9; ++i) {
    const int64_t w = workers[static_cast<size_t>(i)];
    auto a = TryLease(*store_, w);
    ASSERT_TRUE(a.has_value()) << i;
    EXPECT_EQ(a->rung(), 0);
    EXPECT_EQ(a->stop_after_epoch(), 1);
    EXPECT_EQ(a->recipe().epochs(), 9);  // the learning-rate schedule spans the top rung
    // Epoch 2 is beyond this rung.
    EXPECT_EQ(Report(*store_, w, *a, 2, 0.5).code(), absl::StatusCode::kInvalidArgument);
    TrainRung(*store_, w, *a, 0.9 - 0.05 * i);
    order.push_back(a->job_id());
    if (i == 1) {
      // Two finished: no slot yet, both wait.
      EXPECT_EQ(Sql(absl::StrCat("SELECT count(*) FROM jobs WHERE campaign_id = ", c, " AND state = 'waiting'")), "2");
    }
    if (i == 2) {
      // Three finished: the best is promoted at once (asynchronously).
      EXPECT_EQ(Sql(absl::StrCat("SELECT state || ' ' || rung || ' ' || target_epochs FROM jobs WHERE id = ",
                                 order[0])),
                "pending 1 3");
    }
  }
  // Rung 0 is closed: the top three go on, six stop there.
  EXPECT_EQ(Sql(absl::StrCat("SELECT string_agg(id::text, ',' ORDER BY id) FROM jobs WHERE campaign_id = ", c,
                             " AND state = 'pending' AND rung = 1")),
            absl::StrCat(order[0], ",", order[1], ",", order[2]));
  EXPECT_EQ(Sql(absl::StrCat("SELECT count(*) FROM jobs WHERE campaign_id = ", c, " AND state = 'stopped' AND rung = 0")),
            "6");
  EXPECT_EQ(Sql(absl::StrCat("SELECT count(*) FROM events WHERE campaign_id = ", c, " AND kind = 'job_stopped'")), "6");

  // Rung 1: the promoted continue after epoch 1 up to epoch 3, each on the
  // worker that holds its checkpoint.
  for (int i = 0; i < 3; ++i) {
    const int64_t w = workers[static_cast<size_t>(i)];
    auto a = TryLease(*store_, w);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->job_id(), order[static_cast<size_t>(i)]);
    EXPECT_EQ(a->rung(), 1);
    EXPECT_EQ(a->resume_from_epoch(), 1);
    EXPECT_EQ(a->stop_after_epoch(), 3);
    TrainRung(*store_, w, *a, 0.91 + 0.02 * i);  // above rung 0's: the last one is now the best
  }
  const int64_t best = order[2];
  EXPECT_EQ(Sql(absl::StrCat("SELECT state || ' ' || rung FROM jobs WHERE id = ", best)), "pending 2");
  EXPECT_EQ(Sql(absl::StrCat("SELECT count(*) FROM jobs WHERE campaign_id = ", c, " AND state = 'stopped' AND rung = 1")),
            "2");
  // The top rung: epochs 4..9, then the job succeeds and the campaign is done.
  const int64_t w = workers[2];
  auto top = TryLease(*store_, w);
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(top->job_id(), best);
  EXPECT_EQ(top->rung(), 2);
  EXPECT_EQ(top->resume_from_epoch(), 3);
  EXPECT_EQ(top->stop_after_epoch(), 9);
  TrainRung(*store_, w, *top, 0.95);
  EXPECT_EQ(Sql(absl::StrCat("SELECT state FROM jobs WHERE id = ", best)), "succeeded");
  EXPECT_EQ(Sql(absl::StrCat("SELECT state FROM campaigns WHERE id = ", c)), "done");
  ExpectCleanEpochAudit(c);
  EXPECT_EQ(Sql(absl::StrCat("SELECT count(*) FROM epochs e JOIN jobs j ON j.id = e.job_id WHERE j.campaign_id = ",
                             c)),
            "21");  // 9 x 1 + 3 x 2 + 1 x 6

  // The status: candidates per rung and the thresholds.
  auto status = store_->GetCampaign(c);
  ASSERT_TRUE(status.ok()) << status.status();
  const auto& r = status->response;
  EXPECT_EQ(r.campaign().schedule().kind(), moe4::v1::SCHEDULE_KIND_ASHA);
  EXPECT_EQ(r.campaign().stopped(), 8);
  ASSERT_EQ(r.rungs_size(), 3);
  EXPECT_EQ(r.rungs(0).entered(), 9);
  EXPECT_EQ(r.rungs(0).finished(), 9);
  EXPECT_EQ(r.rungs(0).promoted(), 3);
  EXPECT_EQ(r.rungs(0).stopped(), 6);
  EXPECT_NEAR(r.rungs(0).threshold(), 0.8, 1e-9);  // the third best of rung 0
  EXPECT_NEAR(r.rungs(0).best(), 0.9, 1e-9);
  EXPECT_EQ(r.rungs(1).entered(), 3);
  EXPECT_EQ(r.rungs(1).promoted(), 1);
  EXPECT_EQ(r.rungs(2).entered(), 1);
  EXPECT_EQ(r.rungs(2).finished(), 1);
  EXPECT_TRUE(r.rungs(2).closed());
  EXPECT_EQ(r.epochs_done(), 21);
  EXPECT_EQ(r.epochs_total(), 21);

  // The leaderboard ranks the highest rung reached, then validation there.
  auto board = store_->Leaderboard(c, 20, false);
  ASSERT_TRUE(board.ok()) << board.status();
  ASSERT_EQ(board->size(), 9u);
  EXPECT_EQ((*board)[0].job_id(), best);
  EXPECT_EQ((*board)[0].rung(), 2);
  EXPECT_EQ((*board)[0].rung_epochs(), 9);
  EXPECT_EQ((*board)[1].rung(), 1);
  EXPECT_EQ((*board)[1].job_id(), order[1]);  // 0.93 at rung 1 beats 0.91
  EXPECT_EQ((*board)[3].rung(), 0);
  EXPECT_EQ((*board)[3].job_id(), order[3]);  // the best of those stopped at rung 0
  EXPECT_EQ((*board)[3].state(), moe4::v1::JOB_STATE_STOPPED);

  // Family statistics per rung: rung 0 covers all nine combinations (K = 2).
  auto rung0 = store_->FamilyStats(c);
  ASSERT_TRUE(rung0.ok()) << rung0.status();
  int n0 = 0;
  for (const auto& f : *rung0) n0 += f.n();
  EXPECT_EQ(n0, 18);
  auto rung1 = store_->FamilyStats(c, 1);
  ASSERT_TRUE(rung1.ok()) << rung1.status();
  int n1 = 0;
  for (const auto& f : *rung1) n1 += f.n();
  EXPECT_EQ(n1, 6);
  EXPECT_EQ(store_->FamilyStats(c, 3).status().code(), absl::StatusCode::kInvalidArgument);
  // The analysts' view answers from rung 0 for an asha campaign.
  EXPECT_EQ(Sql(absl::StrCat("SELECT sum(n) FROM v_family_stats WHERE campaign_id = ", c)), "18");
  auto pairs = store_->PairStats(c, 1.0, 0);
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  int pair_n = 0;
  for (const auto& p : *pairs) pair_n += p.n();
  EXPECT_EQ(pair_n, 9);  // one pair per K = 2 combination
}

TEST_F(AshaStoreTest, APromotedJobWaitsForItsCheckpointHolderWhileThatWorkerIsIdle) {
  const int64_t c = SubmitAsha(4, "{kind: asha, min_epochs: 1, reduction_factor: 3}", 3);
  const int64_t a = Worker("holder"), b = Worker("other");
  auto j1 = TryLease(*store_, a);
  auto j2 = TryLease(*store_, b);
  ASSERT_TRUE(j1 && j2);
  TrainRung(*store_, a, *j1, 0.9);
  TrainRung(*store_, b, *j2, 0.5);
  auto j3 = TryLease(*store_, a);
  ASSERT_TRUE(j3);
  TrainRung(*store_, a, *j3, 0.1);
  // j1 leads three finished members: promoted, kept for worker a.
  EXPECT_EQ(Sql(absl::StrCat("SELECT state || ' ' || rung FROM jobs WHERE id = ", j1->job_id())), "pending 1");
  // b is offered the rung-0 job left, not the promoted one.
  auto next_b = TryLease(*store_, b);
  ASSERT_TRUE(next_b);
  EXPECT_EQ(next_b->rung(), 0);
  EXPECT_NE(next_b->job_id(), j1->job_id());
  // a, the holder, gets its promoted job first, to continue after epoch 1.
  auto next_a = TryLease(*store_, a);
  ASSERT_TRUE(next_a);
  EXPECT_EQ(next_a->job_id(), j1->job_id());
  EXPECT_EQ(next_a->resume_from_epoch(), 1);
  EXPECT_EQ(next_a->stop_after_epoch(), 3);
  EXPECT_EQ(next_a->attempt(), j1->attempt() + 1);  // a new fencing token for the new rung
  // The rung-0 attempt is fenced out now.
  EXPECT_EQ(Report(*store_, a, *j1, 1, 0.9).code(), absl::StatusCode::kFailedPrecondition);
  TrainRung(*store_, b, *next_b, 0.3);
  TrainRung(*store_, a, *next_a, 0.95);
  EXPECT_EQ(Sql(absl::StrCat("SELECT state FROM campaigns WHERE id = ", c)), "done");
  ExpectCleanEpochAudit(c);
}

TEST_F(AshaStoreTest, AnotherWorkerRetrainsAPromotedJobOnceTheAffinityLapses) {
  const int64_t c = SubmitAsha(3, "{kind: asha, min_epochs: 1, reduction_factor: 3}", 3);
  const int64_t a = Worker("holder"), b = Worker("other");
  int64_t promoted = 0;
  for (int i = 0; i < 3; ++i) {
    auto j = TryLease(*store_, a);
    ASSERT_TRUE(j);
    if (i == 0) promoted = j->job_id();
    TrainRung(*store_, a, *j, 0.9 - 0.2 * i);
  }
  // Only the promoted job is left, and it waits for a while a is idle.
  EXPECT_FALSE(TryLease(*store_, b).has_value());
  Sql(absl::StrCat("UPDATE jobs SET affinity_until = now() - interval '1 second' WHERE id = ", promoted,
                   " RETURNING id"));
  auto j = TryLease(*store_, b);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->job_id(), promoted);
  // b has no checkpoint: it retrains from scratch with the same seed; the
  // coordinator's stored epoch 1 stays authoritative (the worker reports
  // from epoch 2 on), so the audit holds.
  EXPECT_EQ(j->resume_from_epoch(), 1);
  TrainRung(*store_, b, *j, 0.95);
  EXPECT_EQ(Sql(absl::StrCat("SELECT state FROM jobs WHERE id = ", promoted)), "succeeded");
  ExpectCleanEpochAudit(c);
}

TEST_F(AshaStoreTest, AFailureThatClosesARungStopsItsWaitingMembers) {
  const int64_t c = SubmitAsha(3, "{kind: asha, min_epochs: 1, reduction_factor: 3}", 3);
  const int64_t w = Worker("w");
  auto j1 = TryLease(*store_, w);
  ASSERT_TRUE(j1);
  TrainRung(*store_, w, *j1, 0.4);
  auto j2 = TryLease(*store_, w);
  ASSERT_TRUE(j2);
  TrainRung(*store_, w, *j2, 0.6);
  auto j3 = TryLease(*store_, w);
  ASSERT_TRUE(j3);
  moe4::v1::FailRequest f;
  f.set_worker_id(w);
  f.set_job_id(j3->job_id());
  f.set_attempt(j3->attempt());
  f.set_reason("non-finite loss");
  f.set_retryable(false);
  ASSERT_TRUE(store_->Fail(f).ok());
  // Rung 0 closed with two results: its best goes on, the other stops.
  EXPECT_EQ(Sql(absl::StrCat("SELECT state || ' ' || rung FROM jobs WHERE id = ", j2->job_id())), "pending 1");
  EXPECT_EQ(Sql(absl::StrCat("SELECT state FROM jobs WHERE id = ", j1->job_id())), "stopped");
  auto top = TryLease(*store_, w);
  ASSERT_TRUE(top);
  TrainRung(*store_, w, *top, 0.7);
  EXPECT_EQ(Sql(absl::StrCat("SELECT state FROM campaigns WHERE id = ", c)), "done");
}

TEST_F(AshaStoreTest, CancellingEndsWaitingJobsToo) {
  const int64_t c = SubmitAsha(3);
  const int64_t w = Worker("w");
  auto j = TryLease(*store_, w);
  ASSERT_TRUE(j);
  TrainRung(*store_, w, *j, 0.5);
  ASSERT_EQ(Sql(absl::StrCat("SELECT state FROM jobs WHERE id = ", j->job_id())), "waiting");
  auto cancelled = store_->CancelCampaign(c);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(*cancelled, 3);
  EXPECT_EQ(Sql(absl::StrCat("SELECT count(*) FROM jobs WHERE campaign_id = ", c, " AND state <> 'cancelled'")), "0");
}

// Two stores (two coordinators) on one database, eight workers leasing from
// one and completing through the other at once: every rung is decided
// exactly once per member (no double promotion, none skipped).
TEST_F(AshaStoreTest, TwoCoordinatorsRacingPromotionsNeverPromoteTwiceOrSkip) {
  const int64_t c = SubmitAsha(10, "{kind: asha, min_epochs: 1, reduction_factor: 2}", 8);  // rungs 1, 2, 4, 8
  ASSERT_GT(c, 0);
  // A short affinity: a racer that stops leasing must not hold a promoted
  // job back for long.
  store_ = NewStore("test-a", absl::Seconds(1));
  std::unique_ptr<PgJobStore> other = NewStore("test-b", absl::Seconds(1));
  PgJobStore* stores[2] = {store_.get(), other.get()};
  constexpr int kWorkers = 8;
  std::vector<int64_t> workers;
  for (int i = 0; i < kWorkers; ++i) workers.push_back(Worker(absl::StrCat("racer", i)));
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWorkers; ++i) {
    threads.emplace_back([&, i] {
      PgJobStore& lease_from = *stores[i % 2];
      PgJobStore& write_to = *stores[(i + 1) % 2];
      for (int idle = 0; idle < 1000 && !failed;) {
        auto job = lease_from.LeaseJob(workers[i], absl::Seconds(60));
        if (!job.ok()) { failed = true; ADD_FAILURE() << job.status(); return; }
        if (!job->has_value()) {
          if (Sql(absl::StrCat("SELECT state FROM campaigns WHERE id = ", c)) == "done") return;
          ++idle;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        const moe4::v1::JobAssignment& a = **job;
        // A metric that depends on the job and the rung, so rungs reorder.
        const double v = 0.3 + 0.05 * static_cast<double>((a.job_id() * 7 + a.rung() * 3) % 11);
        for (int e = a.resume_from_epoch() + 1; e <= a.stop_after_epoch(); ++e) {
          moe4::v1::ReportEpochsRequest r;
          r.set_worker_id(workers[i]);
          r.set_job_id(a.job_id());
          r.set_attempt(a.attempt());
          *r.add_epochs() = Epoch(e, a.families_size(), v - 0.05, v);
          auto s = write_to.ReportEpochs(r, absl::Seconds(60));
          if (!s.ok()) { failed = true; ADD_FAILURE() << s.status(); return; }
        }
        moe4::v1::CompleteRequest done;
        done.set_worker_id(workers[i]);
        done.set_job_id(a.job_id());
        done.set_attempt(a.attempt());
        if (auto s = write_to.Complete(done); !s.ok()) { failed = true; ADD_FAILURE() << s; return; }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_FALSE(failed);
  ASSERT_EQ(Sql(absl::StrCat("SELECT state FROM campaigns WHERE id = ", c)), "done");
  // One promotion event per promoted rung result, never two for one job and rung.
  EXPECT_EQ(Sql(absl::StrCat("SELECT count(*) FROM events WHERE campaign_id = ", c, " AND kind = 'job_promoted'")),
            Sql(absl::StrCat("SELECT count(*) FROM rung_results WHERE campaign_id = ", c,
                             " AND promoted_at IS NOT NULL")));
  EXPECT_EQ(Sql(absl::StrCat("SELECT count(*) FROM (SELECT job_id, detail FROM events WHERE campaign_id = ", c,
                             " AND kind = 'job_promoted' GROUP BY 1, 2 HAVING count(*) > 1) d")),
            "0");
  // Every member of a rung below the top ended promoted or stopped there.
  EXPECT_EQ(Sql(absl::StrCat("SELECT count(*) FROM rung_results r JOIN jobs j ON j.id = r.job_id "
                             "WHERE r.campaign_id = ", c, " AND r.rung < 3 AND r.promoted_at IS NULL "
                             "AND NOT (j.state = 'stopped' AND j.rung = r.rung)")),
            "0");
  // Members entering rung i + 1 = promoted from rung i.
  for (int rung = 0; rung < 3; ++rung) {
    EXPECT_EQ(Sql(absl::StrCat("SELECT count(*) FROM rung_results WHERE campaign_id = ", c, " AND rung = ", rung,
                               " AND promoted_at IS NOT NULL")),
              Sql(absl::StrCat("SELECT count(*) FROM rung_results WHERE campaign_id = ", c, " AND rung = ",
                               rung + 1)))
        << "rung " << rung;
  }
  // None skipped: each rung's top max(1, floor(n / eta)) by the metric was
  // promoted (earlier promotions may add more; ASHA never takes one back).
  for (int rung = 0; rung < 3; ++rung) {
    const int n = std::stoi(Sql(absl::StrCat("SELECT count(*) FROM rung_results WHERE campaign_id = ", c,
                                             " AND rung = ", rung)));
    const int slots = PromotionSlots(n, 2, /*closed=*/true);
    EXPECT_EQ(Sql(absl::StrCat("SELECT count(*) FROM (SELECT promoted_at FROM rung_results WHERE campaign_id = ", c,
                               " AND rung = ", rung, " ORDER BY metric DESC NULLS LAST, job_id LIMIT ", slots,
                               ") t WHERE promoted_at IS NULL")),
              "0")
        << "rung " << rung;
  }
  EXPECT_EQ(Sql(absl::StrCat("SELECT count(*) FROM jobs WHERE campaign_id = ", c, " AND state = 'succeeded'")),
            Sql(absl::StrCat("SELECT count(*) FROM rung_results WHERE campaign_id = ", c, " AND rung = 3")));
  ExpectCleanEpochAudit(c);
}

}  // namespace
}  // namespace moe4::coordinator
