// docs/queries.md is executable documentation: every ```sql block in it runs,
// as the read-only moe4_reader role, against a real database holding a
// campaign finished through the real coordinator by a simulated worker, and
// must succeed and answer with at least one row. (That moe4_reader cannot
// write is PgJobStoreTest.ViewsAnswerAndTheReaderRoleCannotWrite.)
#include <gtest/gtest.h>

#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <vector>

#include "common/auth.h"
#include "coordinator/server/coordinator_server.h"
#include "tests/coordinator/test_support.h"
#include "tests/ctl/sim_worker.h"

namespace moe4::testing {
namespace {

struct SqlBlock {
  int line = 0;          // of the opening fence, 1-based
  std::string heading;   // the "## ..." above it
  std::string sql;
};

// The ```sql fenced blocks of a Markdown file.
std::vector<SqlBlock> SqlBlocks(const std::string& path) {
  std::ifstream in(path);
  std::vector<SqlBlock> blocks;
  std::string line, heading;
  int n = 0;
  bool inside = false;
  while (std::getline(in, line)) {
    ++n;
    if (!inside && line.rfind("## ", 0) == 0) heading = line.substr(3);
    if (!inside && line == "```sql") {
      inside = true;
      blocks.push_back({n, heading, ""});
    } else if (inside && line.rfind("```", 0) == 0) {
      inside = false;
    } else if (inside) {
      blocks.back().sql += line + "\n";
    }
  }
  return blocks;
}

class QueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << db_.error();
    coordinator::CoordinatorOptions o;
    o.listen = "127.0.0.1:0";
    o.http_listen = "";
    o.db_url = db_.url();
    o.db_pool = 2;
    o.admin_token = "docs-admin-token";
    o.worker_token = "docs-worker-token";
    o.instance_id = "docs-test";
    auto server = coordinator::CoordinatorServer::Start(o);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                       grpc::InsecureChannelCredentials());

    // Campaign 1, as the queries name it: submitted, then run to the end.
    auto campaigns = moe4::v1::CampaignService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.AddMetadata(std::string(kAuthMetadataKey), BearerValue("docs-admin-token"));
    moe4::v1::SubmitRequest req;
    req.set_spec_yaml(ResultsSpecYaml());
    moe4::v1::SubmitResponse resp;
    ASSERT_TRUE(campaigns->Submit(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.campaign_id(), 1);
    SimulatedWorker worker(channel, "docs-worker-token", "docs-gpu0");
    ASSERT_TRUE(worker.Register().ok());
    SimOptions sim;
    sim.fail_families = {"AirNet", "AlexNet", "BagNet"};
    // A folder dataset with skip_bad_images that left files out (question 13).
    sim.skipped_images = {{"train/cat", 2}, {"test/dog", 1}};
    auto ran = worker.Run(sim);
    ASSERT_TRUE(ran.ok()) << ran.status();
    ASSERT_EQ(*ran, 20);
    ASSERT_EQ(coordinator::testing::QueryOne(db_.url(), "SELECT state FROM campaigns WHERE id = 1"), "done");
  }

  coordinator::testing::TestDatabase db_;
  std::unique_ptr<coordinator::CoordinatorServer> server_;
};

TEST_F(QueriesTest, EveryQueryInTheDocsRunsAsTheReader) {
  const std::string path = std::string(MOE4_SOURCE_DIR) + "/docs/queries.md";
  const std::vector<SqlBlock> blocks = SqlBlocks(path);
  ASSERT_EQ(blocks.size(), 13u) << path << ": thirteen questions, one ```sql block each";
  pqxx::connection conn(db_.url());
  for (const SqlBlock& block : blocks) {
    SCOPED_TRACE(path + ":" + std::to_string(block.line) + " (" + block.heading + ")");
    pqxx::work txn(conn);
    // The role an analyst has: the views and nothing else.
    txn.exec("SET ROLE moe4_reader");
    try {
      pqxx::result r = txn.exec(block.sql);
      EXPECT_GT(r.size(), 0u) << "no rows from:\n" << block.sql;
      EXPECT_GT(r.columns(), 0) << block.sql;
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << block.sql;
    }
    txn.abort();
  }
}

TEST_F(QueriesTest, TheAnswersAreTheOnesTheDocsPromise) {
  const std::vector<SqlBlock> blocks = SqlBlocks(std::string(MOE4_SOURCE_DIR) + "/docs/queries.md");
  ASSERT_EQ(blocks.size(), 13u);
  pqxx::connection conn(db_.url());
  auto run = [&](int question) {
    pqxx::work txn(conn);
    txn.exec("SET ROLE moe4_reader");
    pqxx::result r = txn.exec(blocks[question - 1].sql);
    txn.abort();
    return r;
  };
  // 3: AirNet (25 points worse by construction) is the low-yield family.
  pqxx::result low = run(3);
  ASSERT_EQ(low.size(), 1u);
  EXPECT_EQ(low[0][0].as<std::string>(), "AirNet");
  // 5: the stratified sample covers every family exactly evenly: no anchor.
  for (const auto& row : run(5)) {
    EXPECT_EQ(row["count"].as<int>(), 10);
    EXPECT_FALSE(row["anchor"].as<bool>());
  }
  // 6: below E = 0.5 experts died (the AirNet ensembles); above, none did.
  pqxx::result eco = run(6);
  ASSERT_EQ(eco.size(), 2u);
  EXPECT_EQ(eco[1]["ecology_at_least_half"].as<bool>(), true);
  EXPECT_EQ(eco[1]["share_all_alive"].as<double>(), 1.0);
  EXPECT_EQ(eco[0]["all_alive"].as<int>(), 0);
  // 8: AirNet is the family whose expert dies.
  EXPECT_EQ(run(8)[0]["family"].as<std::string>(), "AirNet");
  // 11: the simulated specialisation, 0.2 of H(class) for the AirNet
  // ensembles (E < 0.5, an expert dead), 0.6 for the others.
  pqxx::result spec = run(11);
  ASSERT_EQ(spec.size(), 2u);
  EXPECT_EQ(spec[0]["ecology_at_least_half"].as<bool>(), false);
  EXPECT_EQ(spec[0]["mean_specialisation"].as<std::string>(), "0.200");
  EXPECT_EQ(spec[1]["all_alive"].as<bool>(), true);
  EXPECT_EQ(spec[1]["measured"].as<int>(), 10);
  EXPECT_EQ(spec[1]["mean_specialisation"].as<std::string>(), "0.600");
  EXPECT_EQ(spec[1]["mean_bits"].as<std::string>(), "1.993");  // 0.6 log2(10)
  // 12: the best ensemble's three experts, ten classes each; expert i is the
  // simulated specialist of the classes c with c % 3 == i.
  pqxx::result by_class = run(12);
  ASSERT_EQ(by_class.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const std::string text = by_class[i]["accuracy_by_class"].as<std::string>();  // {0.83,0.68,...}
    std::vector<double> acc;
    std::stringstream items(text.substr(1, text.size() - 2));
    for (std::string item; std::getline(items, item, ',');) acc.push_back(std::stod(item));
    ASSERT_EQ(acc.size(), 10u) << by_class[i]["accuracy_by_class"].c_str();
    EXPECT_GT(acc[i], acc[(i + 1) % 3]) << "expert " << i << ": " << by_class[i]["accuracy_by_class"].c_str();
  }
  // 13: every job (the failed one too: it reported an epoch) skipped the
  // simulated worker's files, the most skipped class first.
  pqxx::result skipped = run(13);
  ASSERT_EQ(skipped.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(skipped[i]["split"].as<std::string>(), i == 0 ? "train" : "test");
    EXPECT_EQ(skipped[i]["class_name"].as<std::string>(), i == 0 ? "cat" : "dog");
    EXPECT_EQ(skipped[i]["jobs"].as<int>(), 20);
    EXPECT_EQ(skipped[i]["fewest"].as<int>(), i == 0 ? 2 : 1);
    EXPECT_EQ(skipped[i]["most"].as<int>(), i == 0 ? 2 : 1);
  }
}

}  // namespace
}  // namespace moe4::testing
