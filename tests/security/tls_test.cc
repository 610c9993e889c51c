// TLS between clients and the coordinator, with a CA and certificates the test
// makes with the openssl CLI (tests/security/make_test_pki.sh):
//   - a client that trusts the CA calls every service over TLS; tokens still apply;
//   - a plaintext client, a client trusting another CA, and a client expecting
//     another server name are refused at the handshake;
//   - with --tls-client-ca, clients without a certificate from that CA are refused;
//   - broken TLS configuration stops the coordinator from starting.
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/coordinator/service_fixture.h"
#include "tests/security/raw_call.h"

namespace moe4::coordinator {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new std::string(std::filesystem::temp_directory_path() /
                           ("moe4-pki-" + std::to_string(getpid())));
    const std::string cmd =
        std::string("bash '") + MOE4_SOURCE_DIR + "/tests/security/make_test_pki.sh' '" + *pki_ +
        "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(*pki_, ec);
    delete pki_;
  }

  void SetUp() override { ASSERT_TRUE(db_.ok()) << db_.error(); }

  static std::string Pki(const std::string& name) { return *pki_ + "/" + name; }

  CoordinatorOptions Options() const {
    CoordinatorOptions o;
    o.listen = "127.0.0.1:0";
    o.http_listen = "";
    o.db_url = db_.url();
    o.db_pool = 4;
    o.db_wait = absl::Seconds(5);
    o.admin_token = kAdminToken;
    o.worker_token = kWorkerToken;
    o.instance_id = "tls-test";
    o.tls_cert_file = Pki("server.crt");
    o.tls_key_file = Pki("server.key");
    return o;
  }

  void Start(CoordinatorOptions o) {
    auto s = CoordinatorServer::Start(std::move(o));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }

  std::shared_ptr<grpc::Channel> Channel(std::shared_ptr<grpc::ChannelCredentials> creds,
                                         const std::string& name_override = "") {
    grpc::ChannelArguments args;
    if (!name_override.empty()) args.SetSslTargetNameOverride(name_override);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server_->grpc_port()), creds,
                                     args);
  }

  static std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& ca,
                                                       const std::string& client = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Slurp(Pki(ca));
    if (!client.empty()) {
      ssl.pem_cert_chain = Slurp(Pki(client + ".crt"));
      ssl.pem_private_key = Slurp(Pki(client + ".key"));
    }
    return grpc::SslCredentials(ssl);
  }

  // ListWorkers with the admin token: the cheapest call that proves the
  // channel works end to end.
  static grpc::Status ListWorkers(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::string& token = kAdminToken) {
    auto stub = moe4::v1::CampaignService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    moe4::v1::ListWorkersResponse resp;
    return stub->ListWorkers(&ctx, {}, &resp);
  }

  static std::string* pki_;
  testing::TestDatabase db_;
  std::unique_ptr<CoordinatorServer> server_;
};

std::string* TlsTest::pki_ = nullptr;

TEST_F(TlsTest, ClientsThatTrustTheCaWorkAndTokensStillApply) {
  Start(Options());
  auto channel = Channel(Tls("ca.crt"));
  grpc::Status s = ListWorkers(channel);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ListWorkers(channel, "wrong").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListWorkers(channel, kWorkerToken).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // A worker registers over TLS.
  auto worker = moe4::v1::WorkerService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + kWorkerToken);
  moe4::v1::RegisterRequest reg;
  reg.set_name("tls-worker");
  reg.set_device_kind("cpu");
  moe4::v1::RegisterResponse resp;
  s = worker->Register(&ctx, reg, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(resp.worker_id(), 0);

  // The peer really is a TLS peer.
  grpc::ClientContext ctx2;
  ctx2.AddMetadata("authorization", std::string("Bearer ") + kAdminToken);
  auto campaign = moe4::v1::CampaignService::NewStub(channel);
  moe4::v1::ListResponse list;
  ASSERT_TRUE(campaign->List(&ctx2, {}, &list).ok());
  auto auth = ctx2.auth_context();
  ASSERT_NE(auth, nullptr);
  auto kind = auth->FindPropertyValues("transport_security_type");
  ASSERT_FALSE(kind.empty());
  EXPECT_EQ(std::string(kind[0].data(), kind[0].size()), "ssl");
}

TEST_F(TlsTest, PlaintextIsRefusedWhenTlsIsOn) {
  Start(Options());
  auto plain = Channel(grpc::InsecureChannelCredentials());
  const grpc::Status s = ListWorkers(plain);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // Raw bytes on a plaintext channel fare no better, on either service.
  for (const char* method : {"/moe4.v1.WorkerService/Register", "/moe4.v1.CampaignService/Submit"}) {
    const auto reply = security_testing::RawCall(
        plain, method, "", {{"authorization", std::string("Bearer ") + kAdminToken}},
        std::chrono::seconds(5), /*wait_for_ready=*/false);
    EXPECT_FALSE(reply.status.ok()) << method;
    EXPECT_TRUE(reply.messages.empty()) << method;
  }
  EXPECT_EQ(testing::QueryOne(db_.url(), "SELECT count(*) FROM workers"), "0");
  // The server is unharmed: a TLS client still gets through afterwards.
  EXPECT_TRUE(ListWorkers(Channel(Tls("ca.crt"))).ok());
}

TEST_F(TlsTest, AnUntrustedOrMisnamedServerIsRefused) {
  Start(Options());
  EXPECT_EQ(ListWorkers(Channel(Tls("rogue-ca.crt"))).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ListWorkers(Channel(Tls("ca.crt"), "coordinator.example.org")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(ListWorkers(Channel(Tls("ca.crt"), "localhost")).ok());

  // A coordinator presenting a certificate from another CA is not trusted.
  server_.reset();
  CoordinatorOptions o = Options();
  o.tls_cert_file = Pki("rogue-server.crt");
  o.tls_key_file = Pki("rogue-server.key");
  Start(o);
  EXPECT_EQ(ListWorkers(Channel(Tls("ca.crt"))).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MutualTlsRequiresAClientCertificateFromTheCa) {
  CoordinatorOptions o = Options();
  o.tls_client_ca_file = Pki("ca.crt");
  Start(o);
  EXPECT_EQ(ListWorkers(Channel(Tls("ca.crt"))).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ListWorkers(Channel(Tls("ca.crt", "rogue-client"))).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ListWorkers(Channel(grpc::InsecureChannelCredentials())).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  const grpc::Status s = ListWorkers(Channel(Tls("ca.crt", "client")));
  EXPECT_TRUE(s.ok()) << s.error_message();
  // A certificate is not a token: the token is still required.
  EXPECT_EQ(ListWorkers(Channel(Tls("ca.crt", "client")), "wrong").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(TlsTest, BrokenTlsConfigurationRefusesToStart) {
  const std::string empty = Pki("empty.pem");
  std::ofstream(empty).close();
  struct Case {
    const char* what;
    std::string cert, key, client_ca;
  };
  const std::vector<Case> cases = {
      {"cert without key", Pki("server.crt"), "", ""},
      {"key without cert", "", Pki("server.key"), ""},
      {"client CA without cert", "", "", Pki("ca.crt")},
      {"missing cert file", Pki("nope.crt"), Pki("server.key"), ""},
      {"empty key file", Pki("server.crt"), empty, ""},
      {"missing client CA", Pki("server.crt"), Pki("server.key"), Pki("nope.crt")},
      {"garbage cert", Pki("server.key"), Pki("server.key"), ""},
      {"key of another cert", Pki("server.crt"), Pki("client.key"), ""},
  };
  for (const Case& c : cases) {
    CoordinatorOptions o = Options();
    o.tls_cert_file = c.cert;
    o.tls_key_file = c.key;
    o.tls_client_ca_file = c.client_ca;
    auto s = CoordinatorServer::Start(o);
    EXPECT_FALSE(s.ok()) << c.what << ": the coordinator started";
  }
}

}  // namespace
}  // namespace moe4::coordinator
