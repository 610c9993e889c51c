#include "tests/ctl/sim_worker.h"

#include <chrono>
#include <cmath>
#include <map>

#include "common/auth.h"
#include "common/status.h"

namespace moe4::testing {
namespace {

// What each family adds to an ensemble's accuracy.
double Effect(const std::string& family) {
  static const std::map<std::string, double> kEffect = {
      {"AirNet", -0.25}, {"AlexNet", 0.02}, {"BagNet", 0.0}, {"DenseNet", 0.06}, {"ResNet", 0.08}, {"VGG", 0.04}};
  auto it = kEffect.find(family);
  return it == kEffect.end() ? 0.0 : it->second;
}

bool HasAirNet(const std::vector<std::string>& families) {
  for (const auto& f : families) {
    if (f == "AirNet") return true;
  }
  return false;
}

}  // namespace

double SimulatedAccuracy(const std::vector<std::string>& families) {
  double acc = 0.6;
  for (const auto& f : families) acc += Effect(f);
  // A small deterministic jitter so that no two ensembles tie.
  std::size_t h = 0;
  for (const auto& f : families) h = h * 31 + std::hash<std::string>{}(f);
  return acc + static_cast<double>(h % 1000) * 1e-5;
}

double SimulatedEcology(const std::vector<std::string>& families) { return HasAirNet(families) ? 0.3 : 0.8; }

int SimulatedDeadExperts(const std::vector<std::string>& families) { return HasAirNet(families) ? 1 : 0; }

double SimulatedSpecialisation(const std::vector<std::string>& families) { return HasAirNet(families) ? 0.2 : 0.6; }

std::string ResultsSpecYaml() {
  return "name: results\n"
         "families: [AirNet, AlexNet, BagNet, DenseNet, ResNet, VGG]\n"
         "k: 3\n"
         "sampler: stratified\n"
         "budget: 20\n"
         "seed: 3\n"
         "catalogue: adapted\n"
         "dataset: {name: synthetic}\n"
         "recipe: {epochs: 3}\n";
}

SimulatedWorker::SimulatedWorker(std::shared_ptr<grpc::Channel> channel, std::string token, std::string name)
    : stub_(moe4::v1::WorkerService::NewStub(channel)), token_(std::move(token)), name_(std::move(name)) {}

std::unique_ptr<grpc::ClientContext> SimulatedWorker::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata(std::string(kAuthMetadataKey), BearerValue(token_));
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

absl::Status SimulatedWorker::Register(const std::string& device_kind, const std::string& device_name,
                                       int64_t memory_mb) {
  moe4::v1::RegisterRequest req;
  req.set_name(name_);
  req.set_device_kind(device_kind);
  req.set_device_name(device_name);
  req.set_device_memory_mb(memory_mb);
  req.set_threads(1);
  req.set_version("sim");
  moe4::v1::RegisterResponse resp;
  auto ctx = Context();
  grpc::Status s = stub_->Register(ctx.get(), req, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  id_ = resp.worker_id();
  return absl::OkStatus();
}

absl::Status SimulatedWorker::RunJob(const moe4::v1::JobAssignment& job, bool fail, const SimOptions& options) {
  const std::vector<std::string> families(job.families().begin(), job.families().end());
  const int k = job.families_size();
  const int epochs = fail ? 1 : job.recipe().epochs();
  const double final_acc = SimulatedAccuracy(families);
  moe4::v1::ReportEpochsRequest report;
  report.set_worker_id(id_);
  report.set_job_id(job.job_id());
  report.set_attempt(job.attempt());
  for (int e = 1; e <= epochs; ++e) {
    const bool last = e == epochs;
    moe4::v1::EpochMetrics* m = report.add_epochs();
    m->set_epoch(e);
    // A learning curve that rises to the final accuracy.
    const double acc = final_acc * (0.5 + 0.5 * e / job.recipe().epochs());
    m->set_test_accuracy(acc);
    if (job.dataset().validation_fraction() > 0) {
      // Half a point below the test curve, rising with it: the last epoch
      // is selected, so the selected test accuracy is the final one.
      m->set_validation_accuracy(acc - 0.005);
      m->set_validation_loss(2.0 - 1.5 * acc + 0.01);
    }
    m->set_train_accuracy(acc * 0.95);
    m->set_test_loss(2.0 - 1.5 * acc);
    m->set_train_loss(2.1 - 1.5 * acc);
    m->set_lr(1e-3 * (1.0 - 0.5 * e / job.recipe().epochs()));
    const int dead = last ? SimulatedDeadExperts(families) : 0;
    for (int i = 0; i < k; ++i) {
      // The dead expert (AirNet, when present) gets almost no traffic.
      const bool is_dead = dead > 0 && families[i] == "AirNet";
      const double share = is_dead ? 0.01 : (dead > 0 ? 0.99 / (k - 1) : 1.0 / k);
      m->add_gate_mean(share);
      m->add_routing_share(share);
      m->add_expert_accuracy(acc * 0.85);
    }
    // Ten classes; expert i is best on the classes c with c % K == i.
    constexpr int kClasses = 10;
    m->set_num_classes(kClasses);
    for (int i = 0; i < k; ++i) {
      for (int c = 0; c < kClasses; ++c) m->add_expert_class_accuracy(acc * 0.85 + (c % k == i ? 0.1 : -0.05));
    }
    const double specialisation = SimulatedSpecialisation(families) * e / job.recipe().epochs();
    m->set_specialisation_normalised(specialisation);
    m->set_specialisation_bits(specialisation * std::log2(double{kClasses}));
    m->set_routing_entropy(dead > 0 ? 0.55 : 0.95);
    m->set_dead_experts(dead);
    m->set_ecology(last ? SimulatedEcology(families) : 0.8);
    m->set_temperature(2.0);
    m->set_epoch_seconds(1.5 + 0.1 * k);
    m->set_images_per_second(2000.0 / k);
    m->set_peak_memory_bytes(int64_t{256} << 20);
    m->mutable_skipped_images()->insert(options.skipped_images.begin(), options.skipped_images.end());
  }
  moe4::v1::ReportEpochsResponse report_resp;
  auto ctx = Context();
  grpc::Status s = stub_->ReportEpochs(ctx.get(), report, &report_resp);
  if (!s.ok()) return FromGrpcStatus(s);
  if (fail) {
    moe4::v1::FailRequest req;
    req.set_worker_id(id_);
    req.set_job_id(job.job_id());
    req.set_attempt(job.attempt());
    req.set_reason("simulated: loss became NaN");
    req.set_retryable(false);
    moe4::v1::FailResponse resp;
    auto fctx = Context();
    return FromGrpcStatus(stub_->Fail(fctx.get(), req, &resp));
  }
  moe4::v1::CompleteRequest req;
  req.set_worker_id(id_);
  req.set_job_id(job.job_id());
  req.set_attempt(job.attempt());
  req.set_final_test_accuracy(final_acc);
  req.set_best_test_accuracy(final_acc + 0.002);
  req.set_parameter_count(100000 * k);
  req.set_train_seconds(epochs * (1.5 + 0.1 * k));
  moe4::v1::CompleteResponse resp;
  auto cctx = Context();
  return FromGrpcStatus(stub_->Complete(cctx.get(), req, &resp));
}

absl::StatusOr<int> SimulatedWorker::Run(const SimOptions& options) {
  int done = 0;
  while (options.max_jobs == 0 || done < options.max_jobs) {
    moe4::v1::LeaseRequest req;
    req.set_worker_id(id_);
    moe4::v1::LeaseResponse resp;
    auto ctx = Context();
    grpc::Status s = stub_->Lease(ctx.get(), req, &resp);
    if (!s.ok()) return FromGrpcStatus(s);
    if (!resp.has_job()) break;
    ++done;
    const std::vector<std::string> families(resp.job().families().begin(), resp.job().families().end());
    absl::Status run =
        RunJob(resp.job(), !options.fail_families.empty() && families == options.fail_families, options);
    if (!run.ok()) return run;
  }
  return done;
}

}  // namespace moe4::testing
