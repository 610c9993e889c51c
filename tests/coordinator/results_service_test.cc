// The result RPCs moe4ctl reads (ListJobs, GetJob, PairStats, Ecology) through
// a real coordinator on loopback over a fresh database: what they return,
// with hand-checked numbers, and how they refuse bad requests.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "tests/coordinator/service_fixture.h"
#include "tests/coordinator/test_support.h"

namespace moe4::coordinator {
namespace {

using testing::SpecOptions;
using testing::SpecYaml;

class ResultsServiceTest : public ServiceFixture {
 protected:
  // Submits a K=2 campaign over `families` with every pair (budget C(N,2)).
  int64_t SubmitAllPairs(const std::vector<std::string>& families, int epochs = 2) {
    SpecOptions spec;
    spec.families = families;
    spec.k = 2;
    spec.budget = static_cast<int>(families.size() * (families.size() - 1) / 2);
    spec.epochs = epochs;
    spec.sampler = "exhaustive";
    moe4::v1::SubmitResponse sub;
    grpc::Status s = Submit(SpecYaml(spec), false, &sub);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return sub.campaign_id();
  }

  // Leases every job and finishes it with accuracy acc(families); a job for
  // which acc returns a negative number is failed instead (after one epoch).
  template <typename AccuracyFn>
  void RunAll(int64_t worker, AccuracyFn acc, int epochs = 2) {
    for (;;) {
      moe4::v1::LeaseResponse lease;
      ASSERT_TRUE(Lease(worker, &lease).ok());
      if (!lease.has_job()) return;
      const auto& job = lease.job();
      const double a = acc(std::vector<std::string>(job.families().begin(), job.families().end()));
      if (a < 0) {
        ASSERT_TRUE(ReportEpoch(worker, job, 1, 0.3).ok());
        moe4::v1::FailRequest fail;
        fail.set_worker_id(worker);
        fail.set_job_id(job.job_id());
        fail.set_attempt(job.attempt());
        fail.set_reason("simulated divergence");
        fail.set_retryable(false);
        moe4::v1::FailResponse resp;
        auto ctx = Context(kWorkerToken);
        ASSERT_TRUE(worker_->Fail(ctx.get(), fail, &resp).ok());
        continue;
      }
      for (int e = 1; e <= epochs; ++e) {
        ASSERT_TRUE(ReportEpoch(worker, job, e, a * e / epochs).ok());
      }
      ASSERT_TRUE(CompleteJob(worker, job, a).ok());
    }
  }

  grpc::Status ListJobs(const moe4::v1::ListJobsRequest& req, moe4::v1::ListJobsResponse* resp) {
    auto ctx = Context(kAdminToken);
    return campaign_->ListJobs(ctx.get(), req, resp);
  }
  grpc::Status GetJob(int64_t id, moe4::v1::GetJobResponse* resp) {
    moe4::v1::GetJobRequest req;
    req.set_job_id(id);
    auto ctx = Context(kAdminToken);
    return campaign_->GetJob(ctx.get(), req, resp);
  }
  grpc::Status PairStats(int64_t campaign, double top_fraction, moe4::v1::PairStatsResponse* resp) {
    moe4::v1::PairStatsRequest req;
    req.set_campaign_id(campaign);
    req.set_top_fraction(top_fraction);
    auto ctx = Context(kAdminToken);
    return campaign_->PairStats(ctx.get(), req, resp);
  }
  grpc::Status Ecology(int64_t campaign, moe4::v1::EcologyResponse* resp) {
    moe4::v1::EcologyRequest req;
    req.set_campaign_id(campaign);
    auto ctx = Context(kAdminToken);
    return campaign_->Ecology(ctx.get(), req, resp);
  }
};

// Accuracies by pair for the three-family campaign below.
double ThreeFamilies(const std::vector<std::string>& f) {
  const std::set<std::string> s(f.begin(), f.end());
  if (s.count("AirNet") && s.count("ResNet")) return 0.9;
  if (s.count("AlexNet") && s.count("ResNet")) return 0.7;
  return 0.5;  // AirNet + AlexNet
}

TEST_F(ResultsServiceTest, ListJobsFiltersPagesAndCarriesEpochs) {
  const int64_t c = SubmitAllPairs({"AirNet", "AlexNet", "ResNet", "VGG"});  // 6 jobs
  const int64_t w = Register("box1-gpu0");
  RunAll(w, [](const std::vector<std::string>& f) {
    return f[0] == "AlexNet" && f[1] == "VGG" ? -1.0 : 0.6;  // one job fails
  });

  moe4::v1::ListJobsRequest req;
  req.set_campaign_id(c);
  moe4::v1::ListJobsResponse all;
  ASSERT_TRUE(ListJobs(req, &all).ok());
  ASSERT_EQ(all.jobs_size(), 6);
  for (int i = 1; i < all.jobs_size(); ++i) EXPECT_LT(all.jobs(i - 1).job_id(), all.jobs(i).job_id());
  int failed = 0;
  for (const auto& j : all.jobs()) {
    EXPECT_EQ(j.campaign_id(), c);
    EXPECT_EQ(j.families_size(), 2);
    EXPECT_EQ(j.worker_name(), "box1-gpu0");
    EXPECT_EQ(j.epochs_total(), 2);
    EXPECT_EQ(j.attempt(), 1);
    EXPECT_EQ(j.max_attempts(), 3);
    EXPECT_EQ(j.epochs_size(), 0) << "epochs only with include_epochs";
    if (j.state() == moe4::v1::JOB_STATE_FAILED) {
      ++failed;
      EXPECT_EQ(j.error(), "simulated divergence");
      EXPECT_EQ(j.epochs_done(), 1);
    } else {
      EXPECT_EQ(j.state(), moe4::v1::JOB_STATE_SUCCEEDED);
      EXPECT_DOUBLE_EQ(j.final_test_accuracy(), 0.6);
      EXPECT_EQ(j.epochs_done(), 2);
      EXPECT_EQ(j.parameter_count(), 1234);
    }
  }
  EXPECT_EQ(failed, 1);

  req.set_state(moe4::v1::JOB_STATE_FAILED);
  moe4::v1::ListJobsResponse only_failed;
  ASSERT_TRUE(ListJobs(req, &only_failed).ok());
  ASSERT_EQ(only_failed.jobs_size(), 1);
  EXPECT_EQ(only_failed.jobs(0).state(), moe4::v1::JOB_STATE_FAILED);

  // Pages of 4 then 2, continuing after the last id seen.
  req.set_state(moe4::v1::JOB_STATE_UNSPECIFIED);
  req.set_limit(4);
  moe4::v1::ListJobsResponse page1, page2;
  ASSERT_TRUE(ListJobs(req, &page1).ok());
  ASSERT_EQ(page1.jobs_size(), 4);
  req.set_after_job_id(page1.jobs(3).job_id());
  ASSERT_TRUE(ListJobs(req, &page2).ok());
  ASSERT_EQ(page2.jobs_size(), 2);
  EXPECT_EQ(page2.jobs(0).job_id(), all.jobs(4).job_id());

  moe4::v1::ListJobsRequest with_epochs;
  with_epochs.set_campaign_id(c);
  with_epochs.set_include_epochs(true);
  moe4::v1::ListJobsResponse full;
  ASSERT_TRUE(ListJobs(with_epochs, &full).ok());
  ASSERT_EQ(full.jobs_size(), 6);
  for (const auto& j : full.jobs()) {
    ASSERT_EQ(j.epochs_size(), j.epochs_done()) << "job " << j.job_id();
    for (int e = 0; e < j.epochs_size(); ++e) {
      EXPECT_EQ(j.epochs(e).epoch(), e + 1);
      EXPECT_EQ(j.epochs(e).routing_share_size(), 2);
    }
  }
}

TEST_F(ResultsServiceTest, GetJobReturnsEveryEpochInOrderExactly) {
  SubmitAllPairs({"AirNet", "AlexNet"}, /*epochs=*/3);
  const int64_t w = Register("box1-gpu0");
  moe4::v1::LeaseResponse lease;
  ASSERT_TRUE(Lease(w, &lease).ok());
  ASSERT_TRUE(lease.has_job());
  const auto& job = lease.job();
  // Out of order, and with values a diverging run reports: they come back
  // in epoch order and bit for bit (NaN included).
  moe4::v1::ReportEpochsRequest rep;
  rep.set_worker_id(w);
  rep.set_job_id(job.job_id());
  rep.set_attempt(job.attempt());
  *rep.add_epochs() = testing::Epoch(2, 2, 0.625);
  *rep.add_epochs() = testing::Epoch(1, 2, 0.1 + 0.2);
  rep.mutable_epochs(0)->set_train_loss(std::numeric_limits<double>::quiet_NaN());
  rep.mutable_epochs(0)->set_routing_share(1, std::numeric_limits<double>::infinity());
  moe4::v1::ReportEpochsResponse rep_resp;
  auto ctx = Context(kWorkerToken);
  ASSERT_TRUE(worker_->ReportEpochs(ctx.get(), rep, &rep_resp).ok());

  moe4::v1::GetJobResponse got;
  ASSERT_TRUE(GetJob(job.job_id(), &got).ok());
  EXPECT_EQ(got.job().job_id(), job.job_id());
  EXPECT_EQ(got.job().state(), moe4::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(got.job().progress_epoch(), 2);
  EXPECT_EQ(got.job().epochs_total(), 3);
  ASSERT_EQ(got.epochs_size(), 2);
  EXPECT_EQ(got.epochs(0).epoch(), 1);
  EXPECT_EQ(got.epochs(0).test_accuracy(), 0.1 + 0.2);  // exact, not 0.3
  EXPECT_EQ(got.epochs(1).epoch(), 2);
  EXPECT_TRUE(std::isnan(got.epochs(1).train_loss()));
  ASSERT_EQ(got.epochs(1).routing_share_size(), 2);
  EXPECT_TRUE(std::isinf(got.epochs(1).routing_share(1)));
  EXPECT_EQ(got.epochs(1).gate_mean(0), 0.5);
  EXPECT_EQ(got.epochs(1).peak_memory_bytes(), 1 << 20);
  EXPECT_EQ(got.epochs(1).ecology(), 0.6);
}

TEST_F(ResultsServiceTest, PairStatsLiftIsObservedOverChance) {
  const int64_t c = SubmitAllPairs({"AirNet", "AlexNet", "ResNet"});  // 3 jobs: one per pair
  RunAll(Register("box1-gpu0"), ThreeFamilies);

  // Default top 10 % of 3 jobs: the single best (AirNet + ResNet, 0.9).
  // Chance puts a pair in the top with probability 1/3: lift 1 / (1/3) = 3.
  moe4::v1::PairStatsResponse def;
  ASSERT_TRUE(PairStats(c, 0, &def).ok());
  ASSERT_EQ(def.pairs_size(), 3);
  EXPECT_EQ(def.pairs(0).family_a(), "AirNet");
  EXPECT_EQ(def.pairs(0).family_b(), "ResNet");
  EXPECT_EQ(def.pairs(0).n(), 1);
  EXPECT_EQ(def.pairs(0).n_top(), 1);
  EXPECT_NEAR(def.pairs(0).expected_top(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(def.pairs(0).lift(), 3.0, 1e-12);
  EXPECT_NEAR(def.pairs(0).mean(), 0.9, 1e-12);
  // Ties on lift 0 are ordered by name.
  EXPECT_EQ(def.pairs(1).family_a(), "AirNet");
  EXPECT_EQ(def.pairs(1).family_b(), "AlexNet");
  EXPECT_EQ(def.pairs(1).lift(), 0);
  EXPECT_EQ(def.pairs(2).family_a(), "AlexNet");

  // The top 34 %: ceil(1.02) = 2 jobs; top share 2/3, so lift 1 / (2/3) = 1.5.
  moe4::v1::PairStatsResponse two;
  ASSERT_TRUE(PairStats(c, 0.34, &two).ok());
  std::map<std::string, double> lift;
  for (const auto& p : two.pairs()) lift[p.family_a() + "+" + p.family_b()] = p.lift();
  EXPECT_NEAR(lift["AirNet+ResNet"], 1.5, 1e-12);
  EXPECT_NEAR(lift["AlexNet+ResNet"], 1.5, 1e-12);
  EXPECT_EQ(lift["AirNet+AlexNet"], 0);

  // The whole campaign is the top: every lift is exactly 1.
  moe4::v1::PairStatsResponse everyone;
  ASSERT_TRUE(PairStats(c, 1.0, &everyone).ok());
  for (const auto& p : everyone.pairs()) EXPECT_NEAR(p.lift(), 1.0, 1e-12);
}

TEST_F(ResultsServiceTest, EcologyIsTheLastEpochOfSucceededJobs) {
  const int64_t c = SubmitAllPairs({"AirNet", "AlexNet", "ResNet"});
  const int64_t w = Register("box1-gpu0");
  // Job 1: epoch 1 healthy, epoch 2 (the last) with a dead expert and low E.
  moe4::v1::LeaseResponse lease;
  ASSERT_TRUE(Lease(w, &lease).ok());
  const auto first = lease.job();
  moe4::v1::ReportEpochsRequest rep;
  rep.set_worker_id(w);
  rep.set_job_id(first.job_id());
  rep.set_attempt(first.attempt());
  *rep.add_epochs() = testing::Epoch(1, 2, 0.5);
  *rep.add_epochs() = testing::Epoch(2, 2, 0.6);
  rep.mutable_epochs(1)->set_ecology(0.2);
  rep.mutable_epochs(1)->set_dead_experts(1);
  moe4::v1::ReportEpochsResponse rep_resp;
  auto ctx = Context(kWorkerToken);
  ASSERT_TRUE(worker_->ReportEpochs(ctx.get(), rep, &rep_resp).ok());
  ASSERT_TRUE(CompleteJob(w, first, 0.6).ok());
  // Job 2 succeeds normally; job 3 stays running (not a finished ensemble).
  ASSERT_TRUE(Lease(w, &lease).ok());
  const auto second = lease.job();
  ASSERT_TRUE(ReportEpoch(w, second, 1, 0.7).ok());
  ASSERT_TRUE(ReportEpoch(w, second, 2, 0.7).ok());
  ASSERT_TRUE(CompleteJob(w, second, 0.7).ok());
  ASSERT_TRUE(Lease(w, &lease).ok());
  ASSERT_TRUE(ReportEpoch(w, lease.job(), 1, 0.4).ok());

  moe4::v1::EcologyResponse eco;
  ASSERT_TRUE(Ecology(c, &eco).ok());
  ASSERT_EQ(eco.points_size(), 2);
  EXPECT_EQ(eco.points(0).job_id(), first.job_id());
  EXPECT_EQ(eco.points(0).ecology(), 0.2);
  EXPECT_EQ(eco.points(0).dead_experts(), 1);
  EXPECT_EQ(eco.points(0).final_test_accuracy(), 0.6);
  EXPECT_EQ(eco.points(0).families_size(), 2);
  EXPECT_EQ(eco.points(1).job_id(), second.job_id());
  EXPECT_EQ(eco.points(1).ecology(), 0.6);
  EXPECT_EQ(eco.points(1).dead_experts(), 0);
}

TEST_F(ResultsServiceTest, BadRequestsNameTheFieldAndUnknownIdsAreNotFound) {
  auto expect_invalid = [](const grpc::Status& s, const std::string& field) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field << ": " << s.error_message();
    EXPECT_EQ(s.error_message().rfind(field, 0), 0u) << "message should start with the field: " << s.error_message();
  };
  const int64_t c = SubmitAllPairs({"AirNet", "AlexNet"});
  moe4::v1::ListJobsResponse jobs;
  moe4::v1::ListJobsRequest req;
  expect_invalid(ListJobs(req, &jobs), "campaign_id");
  req.set_campaign_id(c);
  req.set_limit(-1);
  expect_invalid(ListJobs(req, &jobs), "limit");
  req.set_limit(100001);
  expect_invalid(ListJobs(req, &jobs), "limit");
  req.set_limit(5000);
  req.set_include_epochs(true);
  expect_invalid(ListJobs(req, &jobs), "limit");
  req.set_include_epochs(false);
  req.set_limit(0);
  req.set_after_job_id(-5);
  expect_invalid(ListJobs(req, &jobs), "after_job_id");
  req.set_after_job_id(0);
  req.set_state(static_cast<moe4::v1::JobState>(42));
  expect_invalid(ListJobs(req, &jobs), "state");
  req.set_state(moe4::v1::JOB_STATE_PENDING);
  req.set_campaign_id(987654);
  EXPECT_EQ(ListJobs(req, &jobs).error_code(), grpc::StatusCode::NOT_FOUND);

  moe4::v1::GetJobResponse job;
  expect_invalid(GetJob(0, &job), "job_id");
  grpc::Status missing = GetJob(987654, &job);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(missing.error_message().find("job 987654"), std::string::npos) << missing.error_message();

  moe4::v1::PairStatsResponse pairs;
  expect_invalid(PairStats(0, 0, &pairs), "campaign_id");
  expect_invalid(PairStats(c, -0.1, &pairs), "top_fraction");
  expect_invalid(PairStats(c, 1.5, &pairs), "top_fraction");
  expect_invalid(PairStats(c, std::numeric_limits<double>::quiet_NaN(), &pairs), "top_fraction");
  EXPECT_EQ(PairStats(987654, 0, &pairs).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(PairStats(c, 0, &pairs).ok());
  EXPECT_EQ(pairs.pairs_size(), 0) << "no succeeded job yet";

  moe4::v1::EcologyResponse eco;
  expect_invalid(Ecology(-3, &eco), "campaign_id");
  EXPECT_EQ(Ecology(987654, &eco).error_code(), grpc::StatusCode::NOT_FOUND);

  // A worker token reads none of it.
  moe4::v1::GetJobRequest get;
  get.set_job_id(1);
  auto ctx = Context(kWorkerToken);
  EXPECT_EQ(campaign_->GetJob(ctx.get(), get, &job).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace moe4::coordinator
