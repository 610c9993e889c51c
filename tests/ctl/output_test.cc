#include "ctl/output.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
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

TEST(OutputTest, AlignmentIgnoresColoursAndCountsCodePoints) {
  const Style colour(true);
  EXPECT_EQ(colour.Green("ok"), "\x1b[32mok\x1b[0m");
  EXPECT_EQ(Style(false).Green("ok"), "ok");
  EXPECT_EQ(DisplayWidth(colour.Red("failed")), 6u);
  EXPECT_EQ(DisplayWidth("▁▅█"), 3u);
  Table table({"A", "B"});
  table.AddRow({colour.Red("xx"), "1"});
  table.AddRow({"▁▅█▇", "2"});
  std::ostringstream out;
  table.PrintAligned(out);
  EXPECT_EQ(out.str(), "A     B\n\x1b[31mxx\x1b[0m    1\n▁▅█▇  2\n");
}

TEST(OutputTest, StyleColoursStatesByOutcome) {
  const Style colour(true);
  EXPECT_EQ(colour.State("succeeded"), colour.Green("succeeded"));
  EXPECT_EQ(colour.State("failed"), colour.Red("failed"));
  EXPECT_EQ(colour.State("running"), colour.Yellow("running"));
  EXPECT_EQ(colour.State("pending"), "pending");
}

TEST(OutputTest, NoColorTurnsColoursOff) {
  setenv("NO_COLOR", "1", 1);
  EXPECT_FALSE(Style::ForTerminal(1).enabled());
  unsetenv("NO_COLOR");
  // ctest's stdout is a file or pipe, not a terminal.
  EXPECT_FALSE(Style::ForTerminal(1).enabled());
}

TEST(OutputTest, SparklineScalesMinToMax) {
  EXPECT_EQ(Sparkline({0.1, 0.5, 0.9}), "▁▅█");
  EXPECT_EQ(Sparkline({0.3, 0.3}), "▄▄");
  EXPECT_EQ(Sparkline({0.2, NAN, 0.4}), "▁ █");
  EXPECT_EQ(Sparkline({}), "");
  EXPECT_EQ(Bar(1.0, 4), "████");
  EXPECT_EQ(Bar(0.5, 4), "██");
  EXPECT_EQ(Bar(0.0625, 4), "▎");
  EXPECT_EQ(Bar(0, 4), "");
}

TEST(OutputTest, RelativeTimesAndNames) {
  EXPECT_EQ(Ago(0, 1000), "never");
  EXPECT_EQ(Ago(1000, 13000), "12s ago");
  EXPECT_EQ(Ago(0 + 1, 1 + 3 * 60 * 1000), "3m ago");
  EXPECT_EQ(Ago(1, 1 + 5 * 3600 * 1000), "5h ago");
  EXPECT_EQ(Percent(NAN), "-");
  EXPECT_EQ(Fixed(1.23456, 2), "1.23");
  EXPECT_EQ(JobStateFromName("failed"), moe4::v1::JOB_STATE_FAILED);
  EXPECT_EQ(JobStateFromName("sleeping"), moe4::v1::JOB_STATE_UNSPECIFIED);
  EXPECT_EQ(JobStateName(moe4::v1::JOB_STATE_RUNNING), "running");
  EXPECT_EQ(CampaignStateName(moe4::v1::CAMPAIGN_STATE_DONE), "done");
}

TEST(OutputTest, CsvCellsAreRawNumbersTablesHumanUnits) {
  CommandEnv env;
  EXPECT_EQ(env.Pct(0.8734), "87.3%");
  EXPECT_EQ(env.Secs(200), "3m 20s");
  env.format = OutputFormat::kCsv;
  EXPECT_EQ(env.Pct(0.8734), "0.8734");
  EXPECT_EQ(env.Secs(200), "200");
  EXPECT_EQ(env.Pct(NAN), "");
  // CSV keeps every digit: what a spreadsheet reads is what was measured.
  EXPECT_EQ(ExactNumber(0.1), "0.1");
  EXPECT_EQ(ExactNumber(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(ExactNumber(3), "3");
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
