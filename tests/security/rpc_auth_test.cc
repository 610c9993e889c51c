// Authentication and authorisation of every RPC, generated from the service
// descriptors: a method added to moe4.proto is tested here without anyone
// remembering to, and fails this test until its handler authorises the call.
//
// Each method is called through grpc::GenericStub (raw bytes, the way a
// hostile client would) on a real coordinator over a fresh database:
//   - no token, a wrong token and a dozen malformed credentials: UNAUTHENTICATED,
//     and nothing is written;
//   - the worker token on any CampaignService method: PERMISSION_DENIED;
//   - the right token reaches the handler (its answer is neither an
//     authentication error nor UNIMPLEMENTED).
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "moe4/v1/moe4.grpc.pb.h"
#include "tests/coordinator/service_fixture.h"
#include "tests/security/raw_call.h"

namespace moe4::coordinator {
namespace {

using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;
using security_testing::Metadata;
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


// The services of moe4.proto and the scope each one requires.
struct ServiceUnderTest {
  const ServiceDescriptor* descriptor;
  bool admin_only;
};

std::vector<ServiceUnderTest> Services() {
  return {{ServiceDescriptorOf(moe4::v1::WorkerService::service_full_name()), false},
          {ServiceDescriptorOf(moe4::v1::CampaignService::service_full_name()), true}};
}

std::vector<const MethodDescriptor*> AllMethods() {
  std::vector<const MethodDescriptor*> out;
  for (const auto& s : Services()) {
    for (int i = 0; i < s.descriptor->method_count(); ++i) out.push_back(s.descriptor->method(i));
  }
  return out;
}

bool AdminOnly(const MethodDescriptor* m) {
  for (const auto& s : Services()) {
    if (s.descriptor == m->service()) return s.admin_only;
  }
  return true;
}

std::string PathOf(const MethodDescriptor* m) {
  return "/" + m->service()->full_name() + "/" + m->name();
}

// A request that would do something if it got through: registering a
// worker, submitting a campaign. The others are empty (all defaults), which
// the handlers refuse as INVALID_ARGUMENT or answer harmlessly, but only once
// authorised, which is what tells the two apart.
std::string RequestFor(const MethodDescriptor* m) {
  if (m->input_type() == moe4::v1::RegisterRequest::descriptor()) {
    moe4::v1::RegisterRequest r;
    r.set_name("intruder");
    r.set_device_kind("cpu");
    return r.SerializeAsString();
  }
  if (m->input_type() == moe4::v1::SubmitRequest::descriptor()) {
    moe4::v1::SubmitRequest r;
    r.set_spec_yaml(testing::SpecYaml({}));
    return r.SerializeAsString();
  }
  return "";
}

Metadata Auth(const std::string& value) { return {{"authorization", value}}; }

class RpcAuthTest : public ServiceFixture {
 protected:
  grpc::Status Call(const MethodDescriptor* m, const Metadata& md) {
    return RawCall(channel_, PathOf(m), RequestFor(m), md).status;
  }
  std::string Count(const std::string& table) {
    return QueryOne(db_.url(), "SELECT count(*) FROM " + table);
  }
};

TEST_F(RpcAuthTest, TheProtoHasNoServiceThisTestDoesNotKnow) {
  const auto* file = ServiceDescriptorOf(moe4::v1::WorkerService::service_full_name())->file();
  ASSERT_EQ(file->service_count(), static_cast<int>(Services().size()))
      << "moe4.proto gained a service: add it, with its scope, to Services() above";
  for (int i = 0; i < file->service_count(); ++i) {
    bool known = false;
    for (const auto& s : Services()) known = known || s.descriptor == file->service(i);
    EXPECT_TRUE(known) << file->service(i)->full_name();
  }
  EXPECT_GE(AllMethods().size(), 21u);  // 6 worker + 15 campaign RPCs today
}

TEST_F(RpcAuthTest, EveryRpcRefusesMissingWrongAndMalformedTokens) {
  const std::string admin = kAdminToken;
  const std::vector<std::pair<std::string, Metadata>> credentials = {
      {"no metadata", {}},
      {"wrong token", Auth("Bearer not-the-token")},
      {"empty bearer", Auth("Bearer ")},
      {"admin token without scheme", Auth(admin)},
      {"basic scheme", Auth("Basic " + admin)},
      {"lower-case scheme", Auth("bearer " + admin)},
      {"two spaces", Auth("Bearer  " + admin)},
      {"admin token prefix", Auth("Bearer " + admin.substr(0, admin.size() - 1))},
      {"admin token plus a byte", Auth("Bearer " + admin + "x")},
      {"admin token upper-cased", Auth("Bearer ADMIN-TOKEN-FOR-TESTS")},
      {"worker token prefix", Auth("Bearer " + std::string(kWorkerToken).substr(0, 6))},
      {"token in another header", {{"x-authorization", "Bearer " + admin}}},
      {"token as a bearer of both", Auth("Bearer " + admin + " " + kWorkerToken)},
      {"4 KB token", Auth("Bearer " + std::string(4 * 1024, 'a'))},
      // Beyond gRPC's metadata limit: refused before any handler runs.
      {"64 KB token", Auth("Bearer " + std::string(64 * 1024, 'a'))},
  };
  int calls = 0;
  for (const MethodDescriptor* m : AllMethods()) {
    for (const auto& [what, md] : credentials) {
      ++calls;
      if (what == "64 KB token") {
        // gRPC refuses the oversized header and the server drops the
        // connection, racing the client: either code means refused. A
        // connection of its own keeps the drop from failing the other calls.
        const grpc::Status s =
            RawCall(ChannelTo(server_->grpc_port(), /*isolated=*/true), PathOf(m),
                    RequestFor(m), md)
                .status;
        EXPECT_TRUE(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                    s.error_code() == grpc::StatusCode::UNAVAILABLE)
            << PathOf(m) << " with " << what << ": got code " << s.error_code() << " "
            << s.error_message();
        continue;
      }
      const grpc::Status s = Call(m, md);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << PathOf(m) << " with " << what << ": got code " << s.error_code() << " "
          << s.error_message();
    }
  }
  EXPECT_EQ(calls, static_cast<int>(AllMethods().size() * credentials.size()));
  // Refused before anything was written.
  EXPECT_EQ(Count("workers"), "0");
  EXPECT_EQ(Count("campaigns"), "0");
  EXPECT_EQ(Count("jobs"), "0");
  EXPECT_EQ(Count("events"), "0");
}

TEST_F(RpcAuthTest, EveryCampaignRpcRefusesTheWorkerToken) {
  int admin_only = 0;
  for (const MethodDescriptor* m : AllMethods()) {
    if (!AdminOnly(m)) continue;
    ++admin_only;
    const grpc::Status s = Call(m, Auth(std::string("Bearer ") + kWorkerToken));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << PathOf(m) << ": got code " << s.error_code() << " " << s.error_message();
  }
  EXPECT_GE(admin_only, 15);
  EXPECT_EQ(Count("campaigns"), "0");
  EXPECT_EQ(Count("events"), "0");
}

TEST_F(RpcAuthTest, TheRightTokenReachesEveryHandler) {
  for (const MethodDescriptor* m : AllMethods()) {
    std::vector<std::string> tokens = {kAdminToken};
    if (!AdminOnly(m)) tokens.push_back(kWorkerToken);
    for (const auto& token : tokens) {
      const grpc::Status s = Call(m, Auth("Bearer " + token));
      EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << PathOf(m);
      EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << PathOf(m);
      EXPECT_NE(s.error_code(), grpc::StatusCode::UNIMPLEMENTED)
          << PathOf(m) << " is in moe4.proto but the coordinator does not implement it";
      EXPECT_NE(s.error_code(), grpc::StatusCode::INTERNAL)
          << PathOf(m) << ": " << s.error_message();
    }
  }
}

TEST_F(RpcAuthTest, AnUnknownMethodIsUnimplementedAndLeaksNothing) {
  for (const std::string path :
       {"/moe4.v1.CampaignService/DropAllTables", "/moe4.v1.AdminService/Shell", "/", "//",
        "/moe4.v1.WorkerService/", "/grpc.reflection.v1alpha.ServerReflection/"
                                   "ServerReflectionInfo"}) {
    const grpc::Status s =
        RawCall(channel_, path, "", Auth(std::string("Bearer ") + kAdminToken)).status;
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED) << path << ": " << s.error_message();
  }
}

}  // namespace
}  // namespace moe4::coordinator
