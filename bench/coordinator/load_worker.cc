#include "bench/coordinator/load_worker.h"

#include <grpc/grpc.h>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/status.h"

namespace moe4::bench {
namespace {

// Metrics with a real worker's shape: K values in every per-expert list, so
// the rows and the request size are those of a real campaign.
void FillEpoch(int epoch, int epochs, int k, moe4::v1::EpochMetrics* m) {
  const double progress = static_cast<double>(epoch) / epochs;
  const double acc = 0.3 + 0.6 * progress;
  m->set_epoch(epoch);
  m->set_train_loss(2.0 - 1.5 * acc);
  m->set_train_accuracy(acc * 0.95);
  m->set_test_loss(2.1 - 1.5 * acc);
  m->set_test_accuracy(acc);
  m->set_lr(1e-3 * (1.0 - 0.5 * progress));
  for (int i = 0; i < k; ++i) {
    m->add_gate_mean(1.0 / k);
    m->add_routing_share(1.0 / k);
    m->add_expert_accuracy(acc * 0.85);
  }
  m->set_routing_entropy(0.9);
  m->set_dead_experts(0);
  m->set_ecology(0.8);
  m->set_temperature(2.0);
  m->set_epoch_seconds(1.5);
  m->set_images_per_second(2000.0);
  m->set_peak_memory_bytes(int64_t{256} << 20);
}

// `s` with what was being done in front of its message.
absl::Status Doing(absl::string_view what, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
}

}  // namespace

LoadWorker::LoadWorker(LoadWorkerOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  // Without this, channels with equal arguments share subchannels, i.e. one
  // TCP connection for all workers of this process; real workers are separate
  // processes with a connection each.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  channel_ = grpc::CreateCustomChannel(options_.address, grpc::InsecureChannelCredentials(), args);
  stub_ = moe4::v1::WorkerService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> LoadWorker::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata(std::string(kAuthMetadataKey), BearerValue(options_.token));
  ctx->set_deadline(std::chrono::system_clock::now() + options_.rpc_deadline);
  return ctx;
}

absl::Status LoadWorker::Register() {
  moe4::v1::RegisterRequest req;
  req.set_name(options_.name);
  req.set_device_kind("cuda");
  req.set_device_name("coordinator_load_bench");
  req.set_device_memory_mb(24000);
  req.set_threads(1);
  req.set_version("bench");
  moe4::v1::RegisterResponse resp;
  auto ctx = Context();
  absl::Status s = FromGrpcStatus(stub_->Register(ctx.get(), req, &resp));
  if (!s.ok()) return Doing(absl::StrCat("Register ", options_.name), s);
  worker_id_ = resp.worker_id();
  return absl::OkStatus();
}

bool LoadWorker::RunTrial(const moe4::v1::JobAssignment& job) {
  const int epochs = job.recipe().epochs();
  const int k = job.families_size();
  for (int e = 1; e <= epochs; ++e) {
    moe4::v1::ReportEpochsRequest req;
    req.set_worker_id(worker_id_);
    req.set_job_id(job.job_id());
    req.set_attempt(job.attempt());
    FillEpoch(e, epochs, k, req.add_epochs());
    moe4::v1::ReportEpochsResponse resp;
    auto ctx = Context();
    const Clock::time_point start = Clock::now();
    grpc::Status s = stub_->ReportEpochs(ctx.get(), req, &resp);
    if (!s.ok() || resp.stored() != 1) {
      record_.error = Doing(absl::StrCat("ReportEpochs job ", job.job_id(), " epoch ", e),
                            s.ok() ? absl::InternalError(absl::StrCat("stored ", resp.stored(), " rows, expected 1"))
                                   : FromGrpcStatus(s));
      return false;
    }
    record_.report.push_back({start, Clock::now() - start});
  }
  moe4::v1::CompleteRequest req;
  req.set_worker_id(worker_id_);
  req.set_job_id(job.job_id());
  req.set_attempt(job.attempt());
  req.set_final_test_accuracy(0.9);
  req.set_best_test_accuracy(0.9);
  req.set_parameter_count(100000 * k);
  req.set_train_seconds(1.5 * epochs);
  moe4::v1::CompleteResponse resp;
  auto ctx = Context();
  const Clock::time_point start = Clock::now();
  grpc::Status s = stub_->Complete(ctx.get(), req, &resp);
  if (!s.ok()) {
    record_.error = Doing(absl::StrCat("Complete job ", job.job_id()), FromGrpcStatus(s));
    return false;
  }
  record_.complete.push_back({start, Clock::now() - start});
  return true;
}

void LoadWorker::Run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    moe4::v1::LeaseRequest req;
    req.set_worker_id(worker_id_);
    moe4::v1::LeaseResponse resp;
    auto ctx = Context();
    const Clock::time_point start = Clock::now();
    grpc::Status s = stub_->Lease(ctx.get(), req, &resp);
    const Clock::time_point end = Clock::now();
    if (!s.ok()) {
      record_.error = Doing("Lease", FromGrpcStatus(s));
      return;
    }
    if (!resp.has_job()) {
      record_.ran_out = true;
      record_.ran_out_at = end;
      return;
    }
    record_.lease.push_back({start, end - start});
    if (!RunTrial(resp.job())) return;
  }
}

}  // namespace moe4::bench
