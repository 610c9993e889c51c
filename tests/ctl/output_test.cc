#include "ctl/output.h"

#include <gtest/gtest.h>

#include <sstream>

#include "ctl/commands.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::ctl {
namespace {

TEST(OutputTest, AlignedTablePadsColumns) {
  Table table({"ID", "NAME"});
  table.AddRow({"1", "quickstart"});
  table.AddRow({"12", "x"});
  std::ostringstream out;
  table.PrintAligned(out);
  EXPECT_EQ(out.str(), "ID  NAME\n1   quickstart\n12  x\n");
}

TEST(OutputTest, CsvQuotesWhatNeedsQuoting) {
  Table table({"a", "b"});
  table.AddRow({"x,y", "say \"hi\""});
  std::ostringstream out;
  table.PrintCsv(out);
  EXPECT_EQ(out.str(), "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n");
}

TEST(OutputTest, JsonUsesProtoFieldNames) {
  moe4::v1::CampaignSummary summary;
  summary.set_campaign_id(7);
  summary.set_best_test_accuracy(0.5);
  const std::string json = ToJson(summary);
  EXPECT_NE(json.find("\"campaign_id\": \"7\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"best_test_accuracy\": 0.5"), std::string::npos) << json;
}

TEST(OutputTest, HumanUnits) {
  EXPECT_EQ(Percent(0.8734), "87.3%");
  EXPECT_EQ(ProgressBar(0.5, 10), "[#####-----] 50%");
  EXPECT_EQ(ProgressBar(2.0, 4), "[####] 100%");
  EXPECT_EQ(Duration(45), "45s");
  EXPECT_EQ(Duration(200), "3m 20s");
  EXPECT_EQ(Duration(3720), "1h 02m");
  EXPECT_EQ(ParseOutputFormat("yaml").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExitCodeTest, ScriptsCanTellFailuresApart) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), kExitOk);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("x")), kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("x")), kExitAuth);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("x")), kExitAuth);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("x")), kExitFailed);
}

}  // namespace
}  // namespace moe4::ctl
