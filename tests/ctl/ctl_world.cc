#include "tests/ctl/ctl_world.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/status.h"

namespace moe4::testing {

CtlWorld& CtlWorld::Get() {
  static CtlWorld* world = new CtlWorld;  // outlives the environment's TearDown
  return *world;
}

void CtlWorld::Start() {
  db_ = std::make_unique<coordinator::testing::TestDatabase>();
  if (!db_->ok()) {
    error_ = db_->error();
    return;
  }
  coordinator::CoordinatorOptions o;
  o.listen = "127.0.0.1:0";
  o.http_listen = "";
  o.db_url = db_->url();
  o.db_pool = 4;
  o.db_wait = absl::Seconds(5);
  o.lease = absl::Seconds(30);
  o.reaper_interval = absl::Milliseconds(200);
  o.backoff_base = absl::ZeroDuration();
  o.backoff_max = absl::ZeroDuration();
  o.watch_poll = absl::Milliseconds(100);
  o.admin_token = kCtlAdminToken;
  o.worker_token = kCtlWorkerToken;
  o.instance_id = "ctl-test";
  auto server = coordinator::CoordinatorServer::Start(o);
  if (!server.ok()) {
    error_ = absl::StrCat("cannot start the coordinator: ", server.status().ToString());
    return;
  }
  server_ = std::move(*server);
  channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());

  token_file_ = absl::StrCat(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp", "/moe4-ctl-test-", getpid(),
                             ".token");
  std::ofstream(token_file_) << kCtlAdminToken << "\n";

  auto id = Submit(ResultsSpecYaml());
  if (!id.ok() || *id != kResultsCampaign) {
    error_ = absl::StrCat("cannot submit the results campaign: ", id.status().ToString());
    return;
  }
  auto worker = NewWorker("sim-gpu0");
  if (!worker) {
    error_ = "cannot register the simulated worker";
    return;
  }
  SimOptions sim;
  sim.fail_families = {"AirNet", "AlexNet", "BagNet"};
  // What a worker reports for a folder dataset with skip_bad_images that
  // left 3 files out (the coordinator stores it whatever the dataset).
  sim.skipped_images = {{"train/cat", 2}, {"test/dog", 1}};
  auto ran = worker->Run(sim);
  if (!ran.ok() || *ran != 20) {
    error_ = absl::StrCat("the simulated worker ran ", ran.ok() ? std::to_string(*ran) : ran.status().ToString(),
                          " of 20 jobs");
    return;
  }
  error_.clear();
}

void CtlWorld::Stop() {
  server_.reset();
  db_.reset();
  if (!token_file_.empty()) std::remove(token_file_.c_str());
}

std::string CtlWorld::address() const {
  return server_ ? absl::StrCat("127.0.0.1:", server_->grpc_port()) : "127.0.0.1:1";
}

std::vector<std::string> CtlWorld::CtlArgv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {MOE4CTL_PATH, "--coordinator", address(), "--token-file", token_file_};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ProcessResult CtlWorld::Ctl(const std::vector<std::string>& args, const ProcessOptions& options) const {
  ProcessOptions o = options;
  // The developer's own settings must not leak into the tests.
  o.env.insert(o.env.begin(), {"MOE4_COORDINATOR", "MOE4_TOKEN", "NO_COLOR", "XDG_CONFIG_HOME=/nonexistent"});
  return RunProcess(CtlArgv(args), o);
}

absl::StatusOr<int64_t> CtlWorld::Submit(const std::string& yaml) const {
  auto stub = moe4::v1::CampaignService::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.AddMetadata(std::string(kAuthMetadataKey), BearerValue(kCtlAdminToken));
  moe4::v1::SubmitRequest req;
  req.set_spec_yaml(yaml);
  moe4::v1::SubmitResponse resp;
  grpc::Status s = stub->Submit(&ctx, req, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  return resp.campaign_id();
}

std::unique_ptr<SimulatedWorker> CtlWorld::NewWorker(const std::string& name) const {
  auto worker = std::make_unique<SimulatedWorker>(channel_, kCtlWorkerToken, name);
  if (!worker->Register().ok()) return nullptr;
  return worker;
}

namespace {

class CtlWorldEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { CtlWorld::Get().Start(); }
  void TearDown() override { CtlWorld::Get().Stop(); }
};

// Registered before main() runs the tests (gtest_main).
[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new CtlWorldEnvironment);

}  // namespace
}  // namespace moe4::testing
