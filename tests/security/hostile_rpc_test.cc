// Hostile gRPC traffic against a real coordinator over a fresh database:
//   - garbage, truncated and wrongly typed bytes sent to every method (with the
//     admin token, so they reach parsing and the handlers): never OK-with-effect,
//     never a crash, and the server still serves afterwards;
//   - messages over the receive limit: RESOURCE_EXHAUSTED for every method;
//   - unknown or invalid ids: NOT_FOUND / INVALID_ARGUMENT, nothing written;
//   - writes for a job the calling worker does not hold (another worker's job,
//     a stale or future attempt, a finished job): FAILED_PRECONDITION, counted
//     as fenced writes in /metrics, and the job and its epochs untouched.
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "moe4/v1/moe4.grpc.pb.h"
#include "tests/coordinator/service_fixture.h"
#include "tests/security/raw_call.h"

namespace moe4::coordinator {
namespace {

using google::protobuf::MethodDescriptor;
using security_testing::RawCall;
using testing::QueryOne;

// gRPC's generated services carry no descriptor(); the generated pool has it.
const google::protobuf::ServiceDescriptor* ServiceDescriptorOf(const char* full_name) {
  const auto* d =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(full_name);
  if (d == nullptr) {
    ADD_FAILURE() << full_name << " is not in the generated descriptor pool";
    std::abort();
  }
  return d;
}


std::vector<const MethodDescriptor*> AllMethods() {
  std::vector<const MethodDescriptor*> out;
  for (const auto* s : {ServiceDescriptorOf(moe4::v1::WorkerService::service_full_name()),
                        ServiceDescriptorOf(moe4::v1::CampaignService::service_full_name())}) {
    for (int i = 0; i < s->method_count(); ++i) out.push_back(s->method(i));
  }
  return out;
}

std::string PathOf(const MethodDescriptor* m) {
  return "/" + m->service()->full_name() + "/" + m->name();
}

// Hand-made protobuf wire bytes.
std::string Varint(uint64_t v) {
  std::string out;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    if (v) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (v);
  return out;
}
std::string Tag(int field, int wire_type) { return Varint((field << 3) | wire_type); }
std::string LengthDelimited(int field, const std::string& bytes) {
  return Tag(field, 2) + Varint(bytes.size()) + bytes;
}

std::vector<std::pair<std::string, std::string>> GarbagePayloads() {
  std::mt19937_64 rng(20240601);
  std::vector<std::pair<std::string, std::string>> out = {
      {"one 0xff byte", "\xff"},
      {"truncated varint", "\x08\xff\xff\xff"},
      {"length beyond the end", Tag(1, 2) + Varint(1000) + "abc"},
      {"length 2^62", Tag(1, 2) + Varint(uint64_t{1} << 62)},
      {"field number 0", Tag(0, 0) + Varint(1)},
      {"wire type 7", std::string("\x0f\x01", 2)},
      {"end group without start", Tag(1, 4)},
      {"start group never ended", Tag(5, 3) + Tag(6, 0) + Varint(1)},
      {"string field with invalid UTF-8", LengthDelimited(1, "\xc3\x28\xff\xfe")},
      {"wrong wire type for int64 field 1", LengthDelimited(1, "not a number")},
      {"10-byte varint overflow", Tag(1, 0) + std::string(10, '\xff') + "\x7f"},
      {"deep unknown groups", [] {
         std::string s;
         for (int i = 0; i < 5000; ++i) s += Tag(15, 3);
         return s;
       }()},
      {"many unknown fields", [] {
         std::string s;
         for (int i = 0; i < 20000; ++i) s += Tag(1000 + i % 100, 0) + Varint(i);
         return s;
       }()},
  };
  for (int i = 0; i < 12; ++i) {
    std::string bytes(1 + rng() % 4096, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    out.emplace_back("random bytes #" + std::to_string(i), bytes);
  }
  return out;
}

class HostileRpcTest : public ServiceFixture {
 protected:
  std::string Count(const std::string& table) {
    return QueryOne(db_.url(), "SELECT count(*) FROM " + table);
  }
  int64_t FencedWrites() {
    const auto [code, body] = HttpGet(server_->http_port(), "/metrics");
    EXPECT_EQ(code, 200);
    const std::string key = "\nmoe4_fenced_writes_total ";
    const size_t at = body.find(key);
    if (at == std::string::npos) {
      ADD_FAILURE() << "no " << key << "in /metrics";
      return -1;
    }
    return std::stoll(body.substr(at + key.size()));
  }
  bool ServerAlive() {
    moe4::v1::ListWorkersResponse resp;
    auto ctx = Context(kAdminToken);
    return campaign_->ListWorkers(ctx.get(), {}, &resp).ok();
  }
  int64_t SubmitOne(int budget = 2, int epochs = 2) {
    testing::SpecOptions o;
    o.budget = budget;
    o.epochs = epochs;
    moe4::v1::SubmitResponse resp;
    grpc::Status s = Submit(testing::SpecYaml(o), false, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.campaign_id();
  }
};

TEST_F(HostileRpcTest, GarbageBytesToEveryMethodNeverTakeEffectOrCrash) {
  const std::string admin = std::string("Bearer ") + kAdminToken;
  int calls = 0;
  for (const MethodDescriptor* m : AllMethods()) {
    for (const auto& [what, bytes] : GarbagePayloads()) {
      const auto reply = RawCall(channel_, PathOf(m), bytes, {{"authorization", admin}});
      ++calls;
      // Bytes that happen to parse reach the handler and are validated there;
      // none may crash the server or report an internal fault of ours.
      EXPECT_NE(reply.status.error_code(), grpc::StatusCode::UNAVAILABLE)
          << PathOf(m) << " " << what << ": " << reply.status.error_message();
      EXPECT_NE(reply.status.error_code(), grpc::StatusCode::UNKNOWN)
          << PathOf(m) << " " << what << ": " << reply.status.error_message();
    }
    ASSERT_TRUE(ServerAlive()) << "after garbage to " << PathOf(m);
  }
  std::cout << calls << " garbage messages answered\n";
  EXPECT_EQ(Count("campaigns"), "0");
  EXPECT_EQ(Count("jobs"), "0");
}

TEST_F(HostileRpcTest, MessagesOverTheReceiveLimitAreRefusedForEveryMethod) {
  // A valid message (one huge field 1) just over the 4 MiB default limit.
  const std::string big = LengthDelimited(15, std::string(4 * 1024 * 1024 + 16, 'x'));
  const std::string admin = std::string("Bearer ") + kAdminToken;
  for (const MethodDescriptor* m : AllMethods()) {
    const auto reply = RawCall(channel_, PathOf(m), big, {{"authorization", admin}});
    EXPECT_EQ(reply.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << PathOf(m) << ": " << reply.status.error_message();
  }
  // Also unauthenticated: the limit holds before any token is looked at.
  const auto reply = RawCall(channel_, "/moe4.v1.CampaignService/Submit", big, {});
  EXPECT_EQ(reply.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(ServerAlive());
  EXPECT_EQ(Count("campaigns"), "0");
}

TEST_F(HostileRpcTest, OversizedFieldsWithinTheMessageLimitAreRefusedByName) {
  const int64_t w = Register("w-big");
  SubmitOne();
  moe4::v1::LeaseResponse lease;
  ASSERT_TRUE(Lease(w, &lease).ok());
  ASSERT_TRUE(lease.has_job());
  const auto& job = lease.job();

  struct Case {
    const char* what;
    moe4::v1::ReportEpochsRequest req;
    const char* field;
  };
  auto base = [&] {
    moe4::v1::ReportEpochsRequest r;
    r.set_worker_id(w);
    r.set_job_id(job.job_id());
    r.set_attempt(job.attempt());
    return r;
  };
  std::vector<Case> cases;
  {
    Case c{"1001 epochs in one report", base(), "epochs size"};
    for (int i = 1; i <= 1001; ++i) *c.req.add_epochs() = testing::Epoch(1, 2);
    cases.push_back(c);
  }
  {
    Case c{"100000 gate weights", base(), "gate_mean"};
    auto* e = c.req.add_epochs();
    *e = testing::Epoch(1, 2);
    for (int i = 0; i < 100000; ++i) e->add_gate_mean(0.5);
    cases.push_back(c);
  }
  {
    Case c{"epoch beyond the recipe", base(), "epoch"};
    *c.req.add_epochs() = testing::Epoch(3, 2);
    cases.push_back(c);
  }
  {
    Case c{"epoch zero", base(), "epoch"};
    *c.req.add_epochs() = testing::Epoch(0, 2);
    cases.push_back(c);
  }
  {
    Case c{"per-expert list of the wrong length", base(), "per-expert"};
    *c.req.add_epochs() = testing::Epoch(1, 3);
    cases.push_back(c);
  }
  {
    Case c{"negative dead experts", base(), "dead_experts"};
    auto* e = c.req.add_epochs();
    *e = testing::Epoch(1, 2);
    e->set_dead_experts(-1);
    cases.push_back(c);
  }
  {
    Case c{"no epochs", base(), "epochs size"};
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    moe4::v1::ReportEpochsResponse resp;
    auto ctx = Context(kWorkerToken);
    const grpc::Status s = worker_->ReportEpochs(ctx.get(), c.req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_NE(s.error_message().find(c.field), std::string::npos)
        << c.what << ": " << s.error_message().substr(0, 300);
  }
  EXPECT_EQ(Count("epochs"), "0");

  // Completion with impossible numbers.
  for (double acc : {std::nan(""), std::numeric_limits<double>::infinity(), -0.1, 1.5}) {
    moe4::v1::CompleteRequest req;
    req.set_worker_id(w);
    req.set_job_id(job.job_id());
    req.set_attempt(job.attempt());
    req.set_final_test_accuracy(acc);
    req.set_best_test_accuracy(0.5);
    moe4::v1::CompleteResponse resp;
    auto ctx = Context(kWorkerToken);
    const grpc::Status s = worker_->Complete(ctx.get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << acc;
    EXPECT_NE(s.error_message().find("final_test_accuracy"), std::string::npos);
  }
  // A failure reason of 1 MiB, and one with control characters.
  for (const std::string& reason : {std::string(1 << 20, 'r'), std::string("a\x1b[31mred\x07")}) {
    moe4::v1::FailRequest req;
    req.set_worker_id(w);
    req.set_job_id(job.job_id());
    req.set_attempt(job.attempt());
    req.set_reason(reason);
    moe4::v1::FailResponse resp;
    auto ctx = Context(kWorkerToken);
    const grpc::Status s = worker_->Fail(ctx.get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("reason"), std::string::npos);
  }
  // A worker name with spaces, control characters, or 10 KB.
  for (const std::string& name :
       {std::string("two words"), std::string("tab\tname"), std::string(10240, 'n'),
        std::string("nul\0name", 8), std::string("\xe2\x80\xae-rtl")}) {
    moe4::v1::RegisterRequest req;
    req.set_name(name);
    req.set_device_kind("cpu");
    moe4::v1::RegisterResponse resp;
    auto ctx = Context(kWorkerToken);
    const grpc::Status s = worker_->Register(ctx.get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("name"), std::string::npos);
  }
  EXPECT_EQ(QueryOne(db_.url(), "SELECT state FROM jobs WHERE id = " +
                                    std::to_string(job.job_id())),
            "leased");
  EXPECT_EQ(Count("workers"), "1");
}

TEST_F(HostileRpcTest, UnknownAndInvalidIdsAreRefusedAndWriteNothing) {
  const int64_t w = Register("w-ids");
  const int64_t campaign = SubmitOne();
  const std::string jobs_before = Count("jobs"), events_before = Count("events");
  const int64_t unknown = 987654321;

  auto heartbeat = [&](int64_t worker, int64_t job, int attempt) {
    moe4::v1::HeartbeatRequest r;
    r.set_worker_id(worker);
    r.set_job_id(job);
    r.set_attempt(attempt);
    moe4::v1::HeartbeatResponse resp;
    auto ctx = Context(kWorkerToken);
    return worker_->Heartbeat(ctx.get(), r, &resp).error_code();
  };
  auto report = [&](int64_t worker, int64_t job, int attempt) {
    moe4::v1::ReportEpochsRequest r;
    r.set_worker_id(worker);
    r.set_job_id(job);
    r.set_attempt(attempt);
    *r.add_epochs() = testing::Epoch(1, 2);
    moe4::v1::ReportEpochsResponse resp;
    auto ctx = Context(kWorkerToken);
    return worker_->ReportEpochs(ctx.get(), r, &resp).error_code();
  };
  auto complete = [&](int64_t worker, int64_t job, int attempt) {
    moe4::v1::CompleteRequest r;
    r.set_worker_id(worker);
    r.set_job_id(job);
    r.set_attempt(attempt);
    r.set_final_test_accuracy(0.9);
    r.set_best_test_accuracy(0.9);
    moe4::v1::CompleteResponse resp;
    auto ctx = Context(kWorkerToken);
    return worker_->Complete(ctx.get(), r, &resp).error_code();
  };
  auto fail = [&](int64_t worker, int64_t job, int attempt) {
    moe4::v1::FailRequest r;
    r.set_worker_id(worker);
    r.set_job_id(job);
    r.set_attempt(attempt);
    r.set_reason("x");
    moe4::v1::FailResponse resp;
    auto ctx = Context(kWorkerToken);
    return worker_->Fail(ctx.get(), r, &resp).error_code();
  };
  using grpc::StatusCode;

  // Unknown job ids.
  EXPECT_EQ(heartbeat(w, unknown, 1), StatusCode::NOT_FOUND);
  EXPECT_EQ(report(w, unknown, 1), StatusCode::NOT_FOUND);
  EXPECT_EQ(complete(w, unknown, 1), StatusCode::NOT_FOUND);
  EXPECT_EQ(fail(w, unknown, 1), StatusCode::NOT_FOUND);
  // Unknown workers.
  EXPECT_EQ(heartbeat(unknown, 0, 0), StatusCode::NOT_FOUND);
  moe4::v1::LeaseResponse lease;
  EXPECT_EQ(Lease(unknown, &lease).error_code(), StatusCode::NOT_FOUND);
  // Invalid ids: zero, negative, int64 extremes.
  for (int64_t bad : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    EXPECT_EQ(report(w, bad, 1), StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(complete(w, bad, 1), StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(fail(bad, 1, 1), StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(Lease(bad, &lease).error_code(), StatusCode::INVALID_ARGUMENT) << bad;
  }
  EXPECT_EQ(report(w, std::numeric_limits<int64_t>::max(), 1), StatusCode::NOT_FOUND);
  EXPECT_EQ(report(w, 1, 0), StatusCode::INVALID_ARGUMENT);   // attempt 0
  EXPECT_EQ(report(w, 1, -5), StatusCode::INVALID_ARGUMENT);  // negative attempt

  // Campaign-side unknown ids.
  for (int64_t id : {unknown, campaign + 1000}) {
    moe4::v1::GetRequest g;
    g.set_campaign_id(id);
    moe4::v1::GetResponse gr;
    auto c1 = Context(kAdminToken);
    EXPECT_EQ(campaign_->Get(c1.get(), g, &gr).error_code(), StatusCode::NOT_FOUND);
    moe4::v1::CancelRequest c;
    c.set_campaign_id(id);
    moe4::v1::CancelResponse cr;
    auto c2 = Context(kAdminToken);
    EXPECT_EQ(campaign_->Cancel(c2.get(), c, &cr).error_code(), StatusCode::NOT_FOUND);
    moe4::v1::PauseRequest p;
    p.set_campaign_id(id);
    moe4::v1::PauseResponse pr;
    auto c3 = Context(kAdminToken);
    EXPECT_EQ(campaign_->Pause(c3.get(), p, &pr).error_code(), StatusCode::NOT_FOUND);
    moe4::v1::LeaderboardRequest l;
    l.set_campaign_id(id);
    moe4::v1::LeaderboardResponse lr;
    auto c4 = Context(kAdminToken);
    EXPECT_EQ(campaign_->Leaderboard(c4.get(), l, &lr).error_code(), StatusCode::NOT_FOUND);
    moe4::v1::GetJobRequest j;
    j.set_job_id(id);
    moe4::v1::GetJobResponse jr;
    auto c5 = Context(kAdminToken);
    EXPECT_EQ(campaign_->GetJob(c5.get(), j, &jr).error_code(), StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(Count("jobs"), jobs_before);
  EXPECT_EQ(Count("events"), events_before);
  EXPECT_EQ(Count("epochs"), "0");
  EXPECT_EQ(QueryOne(db_.url(), "SELECT count(*) FROM jobs WHERE state <> 'pending'"), "0");
}

TEST_F(HostileRpcTest, WritesForJobsTheWorkerDoesNotHoldAreFencedAndCounted) {
  const int64_t holder = Register("holder");
  const int64_t thief = Register("thief");
  SubmitOne(/*budget=*/2, /*epochs=*/2);
  moe4::v1::LeaseResponse lease;
  ASSERT_TRUE(Lease(holder, &lease).ok());
  ASSERT_TRUE(lease.has_job());
  const moe4::v1::JobAssignment job = lease.job();
  ASSERT_TRUE(ReportEpoch(holder, job, 1, 0.5).ok());
  const std::string job_id = std::to_string(job.job_id());
  const int64_t fenced_before = FencedWrites();

  auto with = [&](int attempt) {
    moe4::v1::JobAssignment j = job;
    j.set_attempt(attempt);
    return j;
  };
  int expected_fenced = 0;
  // Another worker, with the holder's own attempt number (it can read it from
  // the events table or guess it): every write refused.
  for (const moe4::v1::JobAssignment& j : {job, with(job.attempt() + 1), with(job.attempt() + 7)}) {
    moe4::v1::HeartbeatResponse hb;
    EXPECT_EQ(Heartbeat(thief, j, &hb).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(ReportEpoch(thief, j, 1, 0.99).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(ReportEpoch(thief, j, 2, 0.99).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(CompleteJob(thief, j, 0.99).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    expected_fenced += 4;
  }
  // The holder itself, with a stale or a future attempt.
  for (int attempt : {job.attempt() + 1, job.attempt() + 1000}) {
    EXPECT_EQ(ReportEpoch(holder, with(attempt), 2, 0.99).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(CompleteJob(holder, with(attempt), 0.99).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    expected_fenced += 2;
  }
  EXPECT_EQ(FencedWrites() - fenced_before, expected_fenced);
  EXPECT_EQ(QueryOne(db_.url(), "SELECT state || ':' || attempt || ':' || worker_id FROM jobs "
                                "WHERE id = " + job_id),
            "running:" + std::to_string(job.attempt()) + ":" + std::to_string(holder));
  EXPECT_EQ(QueryOne(db_.url(), "SELECT count(*) || ':' || max(test_accuracy) FROM epochs "
                                "WHERE job_id = " + job_id),
            "1:0.5");

  // The holder finishes; afterwards nobody can write to the finished job, the
  // holder included (a late duplicate Complete is accepted as a no-op).
  ASSERT_TRUE(ReportEpoch(holder, job, 2, 0.6).ok());
  ASSERT_TRUE(CompleteJob(holder, job, 0.6).ok());
  EXPECT_TRUE(CompleteJob(holder, job, 0.6).ok());
  EXPECT_EQ(ReportEpoch(holder, job, 2, 0.99).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReportEpoch(thief, job, 2, 0.99).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(CompleteJob(thief, job, 0.99).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  moe4::v1::FailRequest f;
  f.set_worker_id(thief);
  f.set_job_id(job.job_id());
  f.set_attempt(job.attempt());
  f.set_reason("sabotage");
  moe4::v1::FailResponse fr;
  auto ctx = Context(kWorkerToken);
  EXPECT_EQ(worker_->Fail(ctx.get(), f, &fr).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  expected_fenced += 4;
  EXPECT_EQ(FencedWrites() - fenced_before, expected_fenced);
  EXPECT_EQ(QueryOne(db_.url(), "SELECT state || ':' || final_test_accuracy FROM jobs WHERE id = " +
                                    job_id),
            "succeeded:0.6");
  EXPECT_EQ(QueryOne(db_.url(), "SELECT string_agg(epoch || '=' || test_accuracy, ',' ORDER BY "
                                "epoch) FROM epochs WHERE job_id = " + job_id),
            "1=0.5,2=0.6");
}

}  // namespace
}  // namespace moe4::coordinator
