// Two coordinators on one database and many simulated workers that talk to
// either at random, crash mid-job, resend completions and come back from the
// dead with stale attempts. Every job must succeed exactly once in effect.
#include <gtest/gtest.h>

#include <mutex>
#include <random>
#include <thread>

#include "tests/coordinator/service_fixture.h"

namespace moe4::coordinator {
namespace {

using testing::QueryOne;
using testing::SpecOptions;
using testing::SpecYaml;

class MultiCoordinatorTest : public ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << db_.error();
    for (int i = 0; i < 2; ++i) {
      CoordinatorOptions o = Options();
      o.lease = absl::Seconds(3);  // crashed workers' jobs come back soon
      o.http_listen = "";
      o.instance_id = "coordinator-" + std::to_string(i);
      auto s = CoordinatorServer::Start(o);
      ASSERT_TRUE(s.ok()) << s.status();
      servers_.push_back(std::move(*s));
      stubs_.push_back(moe4::v1::WorkerService::NewStub(ChannelTo(servers_.back()->grpc_port())));
    }
    // The fixture's helpers (Submit) go to the first coordinator.
    channel_ = ChannelTo(servers_[0]->grpc_port());
    worker_ = moe4::v1::WorkerService::NewStub(channel_);
    campaign_ = moe4::v1::CampaignService::NewStub(channel_);
  }

  void TearDown() override { servers_.clear(); }

  std::vector<std::unique_ptr<CoordinatorServer>> servers_;
  std::vector<std::unique_ptr<moe4::v1::WorkerService::Stub>> stubs_;
};

TEST_F(MultiCoordinatorTest, EveryJobSucceedsExactlyOnceInEffect) {
  SpecOptions spec;
  spec.families = {"AirNet", "AlexNet", "ResNet", "VGG", "DenseNet", "ConvNeXt", "DarkNet"};
  spec.k = 3;
  spec.budget = 35;  // all C(7,3)
  spec.epochs = 2;
  spec.max_attempts = 10;  // crashes must not exhaust the retries
  moe4::v1::SubmitResponse sub;
  ASSERT_TRUE(Submit(SpecYaml(spec), false, &sub).ok());

  constexpr int kWorkers = 8;
  struct Stale {
    int64_t worker;
    moe4::v1::JobAssignment job;
  };
  std::mutex mu;
  std::vector<Stale> zombies;           // attempts abandoned by a "crash"
  std::map<int64_t, double> completed;  // job -> accuracy acknowledged OK
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWorkers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(1000 + t);
      auto stub = [&]() { return stubs_[rng() % 2].get(); };
      const int64_t me = Register("sim-" + std::to_string(t), stub());
      int idle = 0;
      while (idle < 60) {  // ~6 s without work (> lease): the campaign is over
        moe4::v1::LeaseResponse lease;
        if (!Lease(me, &lease, stub()).ok()) {
          unexpected++;
          return;
        }
        if (!lease.has_job()) {
          ++idle;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        idle = 0;
        const moe4::v1::JobAssignment& job = lease.job();
        const bool crash = rng() % 100 < 20;
        bool ok = true;
        for (int e = job.resume_from_epoch() + 1; e <= 2 && ok; ++e) {
          ok = ReportEpoch(me, job, e, 0.5, stub()).ok();
          if (crash) break;  // dies after its first epoch
        }
        if (crash) {
          std::lock_guard<std::mutex> lock(mu);
          zombies.push_back({me, job});
          continue;
        }
        if (!ok) {
          unexpected++;
          continue;
        }
        const double acc = 0.001 * static_cast<double>(job.job_id() % 997);
        grpc::Status s = CompleteJob(me, job, acc, stub());
        // At-least-once delivery: sometimes the reply is "lost" and resent.
        if (s.ok() && rng() % 100 < 30) s = CompleteJob(me, job, acc, stub());
        if (!s.ok()) {
          unexpected++;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        if (!completed.emplace(job.job_id(), acc).second) unexpected++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unexpected, 0);

  // The dead come back: every write of an abandoned attempt is fenced.
  for (const Stale& z : zombies) {
    EXPECT_EQ(CompleteJob(z.worker, z.job, 0.99, stubs_[1].get()).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(ReportEpoch(z.worker, z.job, 2, 0.99, stubs_[0].get()).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }

  const std::string c = std::to_string(sub.campaign_id());
  EXPECT_EQ(completed.size(), 35u);
  EXPECT_EQ(QueryOne(db_.url(), "SELECT count(*) FROM jobs WHERE state = 'succeeded'"), "35");
  EXPECT_EQ(QueryOne(db_.url(), "SELECT state FROM campaigns WHERE id = " + c), "done");
  // Exactly one successful attempt per job, and its result is the one acknowledged.
  EXPECT_EQ(QueryOne(db_.url(),
                     "SELECT count(*) FROM (SELECT job_id FROM attempts WHERE outcome = "
                     "'succeeded' GROUP BY job_id HAVING count(*) <> 1) x"),
            "0");
  EXPECT_EQ(QueryOne(db_.url(), "SELECT count(DISTINCT job_id) FROM attempts WHERE outcome = "
                                "'succeeded'"),
            "35");
  for (const auto& [job, acc] : completed) {
    EXPECT_EQ(std::stod(QueryOne(db_.url(), "SELECT final_test_accuracy FROM jobs WHERE id = " +
                                                std::to_string(job))),
              acc);
  }
  // One epoch row per job and epoch, never duplicated.
  EXPECT_EQ(QueryOne(db_.url(), "SELECT count(*) FROM epochs"), "70");
  // Both coordinators handed out leases.
  EXPECT_EQ(QueryOne(db_.url(), "SELECT count(DISTINCT lease_owner) FROM attempts"), "2");
  if (!zombies.empty()) {
    EXPECT_NE(QueryOne(db_.url(), "SELECT count(*) FROM attempts WHERE outcome = 'lease_expired'"),
              "0");
  }
}

}  // namespace
}  // namespace moe4::coordinator
