// Every moe4ctl subcommand, as the real binary, against a real coordinator and
// PostgreSQL holding a finished campaign (ctl_world.h): its table, JSON and
// CSV output and its exit codes.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tests/ctl/ctl_world.h"

namespace moe4::testing {
namespace {

using nlohmann::json;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(world().ok()) << world().error(); }

  static CtlWorld& world() { return CtlWorld::Get(); }

  // Runs moe4ctl and expects `code`; returns stdout.
  static std::string Run(const std::vector<std::string>& args, int code = 0) {
    ProcessResult r = world().Ctl(args);
    EXPECT_EQ(r.exit_code, code) << "moe4ctl " << absl::StrJoin(args, " ") << "\nstdout:\n"
                                 << r.out << "\nstderr:\n"
                                 << r.err;
    return r.out;
  }

  static json RunJson(std::vector<std::string> args) {
    args.insert(args.begin(), {"-o", "json"});
    const std::string out = Run(args);
    json j = json::parse(out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON:\n" << out;
    return j;
  }

  static std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
    return lines;
  }

  static std::string TempFile(const std::string& name) {
    return absl::StrCat(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp", "/moe4-ctl-test-", getpid(), "-",
                        name);
  }
};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_TRUE(Contains(haystack, needle)) << "missing \"" << (needle) << "\" in:\n" << (haystack)

// --- conventions --------------------------------------------------------------

TEST_F(CliTest, HelpListsEveryCommandWithExamples) {
  const std::string help = Run({"--help"});
  for (const char* command : {"submit", "list", "status", "watch", "cancel", "pause", "resume", "workers", "jobs",
                              "job", "leaderboard", "families", "compare", "pairs", "coverage", "ecology", "export", "report"}) {
    EXPECT_TRUE(std::regex_search(help, std::regex(absl::StrCat("\n  ", command, " ")))) << command;
    const std::string sub = Run({command, "--help"});
    EXPECT_CONTAINS(sub, "Examples:");
    EXPECT_CONTAINS(sub, absl::StrCat("moe4ctl ", command));
  }
  EXPECT_CONTAINS(help, "Exit codes");
}

TEST_F(CliTest, ExitCodesScriptsCanRelyOn) {
  // 2: bad usage, caught before anything is sent.
  EXPECT_EQ(world().Ctl({"status"}).exit_code, 2);
  EXPECT_EQ(world().Ctl({"status", "0"}).exit_code, 2);
  EXPECT_EQ(world().Ctl({"leaderboard", "1", "--by", "worst"}).exit_code, 2);
  EXPECT_EQ(world().Ctl({"-o", "yaml", "list"}).exit_code, 2);
  EXPECT_EQ(world().Ctl({"frobnicate"}).exit_code, 2);
  // 1: the coordinator refuses (unknown campaign / job).
  ProcessResult missing = world().Ctl({"status", "999"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_CONTAINS(missing.err, "campaign 999 does not exist");
  EXPECT_EQ(world().Ctl({"job", "999999"}).exit_code, 1);
  EXPECT_EQ(world().Ctl({"families", "999"}).exit_code, 1);
  // 3: nobody listening.
  ProcessResult down = RunProcess({MOE4CTL_PATH, "--coordinator", "127.0.0.1:1", "--token-file", world().token_file(),
                                   "list"});
  EXPECT_EQ(down.exit_code, 3) << down.err;
  EXPECT_CONTAINS(down.err, "is the coordinator running?");
  // 4: a wrong token, or none at all.
  const std::string wrong = TempFile("wrong.token");
  std::ofstream(wrong) << "not-the-token\n";
  ProcessResult denied =
      RunProcess({MOE4CTL_PATH, "--coordinator", world().address(), "--token-file", wrong, "list"});
  EXPECT_EQ(denied.exit_code, 4) << denied.err;
  std::remove(wrong.c_str());
  ProcessOptions no_token;
  no_token.env = {"MOE4_TOKEN", "XDG_CONFIG_HOME=/nonexistent", "HOME=/nonexistent"};
  EXPECT_EQ(RunProcess({MOE4CTL_PATH, "--coordinator", world().address(), "list"}, no_token).exit_code, 4);
}

TEST_F(CliTest, AddressAndTokenComeFromEnvironmentOrConfigFile) {
  ProcessOptions env;
  env.env = {absl::StrCat("MOE4_COORDINATOR=", world().address()), absl::StrCat("MOE4_TOKEN=", kCtlAdminToken),
             "XDG_CONFIG_HOME=/nonexistent"};
  ProcessResult by_env = RunProcess({MOE4CTL_PATH, "list"}, env);
  EXPECT_EQ(by_env.exit_code, 0) << by_env.err;
  EXPECT_CONTAINS(by_env.out, "results");

  const std::string dir = TempFile("xdg");
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p ", dir, "/moe4").c_str()), 0);
  std::ofstream(dir + "/moe4/config.yaml") << "coordinator: " << world().address() << "\ntoken_file: "
                                            << world().token_file() << "\n";
  ProcessOptions config;
  config.env = {"MOE4_COORDINATOR", "MOE4_TOKEN", absl::StrCat("XDG_CONFIG_HOME=", dir)};
  ProcessResult by_config = RunProcess({MOE4CTL_PATH, "list"}, config);
  EXPECT_EQ(by_config.exit_code, 0) << by_config.err;
  EXPECT_CONTAINS(by_config.out, "results");
  std::system(absl::StrCat("rm -rf ", dir).c_str());
}

TEST_F(CliTest, ColoursOnlyOnATerminalWithoutNoColor) {
  // Through a pipe: never.
  EXPECT_FALSE(Contains(Run({"status", "1"}), "\x1b["));
  // On a terminal: yes (the campaign state, "done", is green).
  ProcessOptions tty;
  tty.pty = true;
  ProcessResult on_tty = world().Ctl({"status", "1"}, tty);
  EXPECT_EQ(on_tty.exit_code, 0) << on_tty.out;
  EXPECT_CONTAINS(on_tty.out, "\x1b[32mdone\x1b[0m");
  // NO_COLOR wins, even on a terminal; JSON is never coloured.
  tty.env = {"NO_COLOR=1"};
  ProcessResult no_color = world().Ctl({"status", "1"}, tty);
  EXPECT_EQ(no_color.exit_code, 0);
  EXPECT_CONTAINS(no_color.out, ": done,");
  EXPECT_FALSE(Contains(no_color.out, "\x1b[")) << no_color.out;
  ProcessOptions tty_json;
  tty_json.pty = true;
  EXPECT_FALSE(Contains(world().Ctl({"-o", "json", "families", "1"}, tty_json).out, "\x1b["));
}

TEST_F(CliTest, GlobalOptionsMayFollowTheCommand) {
  const json j = json::parse(Run({"status", "1", "-o", "json"}));
  EXPECT_EQ(j["campaign"]["name"], "results");
}

// --- campaigns ----------------------------------------------------------------

TEST_F(CliTest, ListShowsTheCampaign) {
  const std::string table = Run({"list"});
  EXPECT_TRUE(std::regex_search(table, std::regex(R"(\n1 +results +done +3 +stratified +adapted +20 +19 +1 +\d+\.\d%)")))
      << table;
  const json j = RunJson({"list"});
  bool found = false;
  for (const auto& c : j["campaigns"]) found |= c["name"] == "results" && c["succeeded"] == 19;
  EXPECT_TRUE(found) << j.dump(2);
  EXPECT_EQ(Lines(Run({"-o", "csv", "list"}))[0], "ID,NAME,STATE,K,SAMPLER,CATALOGUE,JOBS,DONE,FAILED,BEST");
}

TEST_F(CliTest, StatusCountsProgressAndState) {
  const std::string out = Run({"status", "1"});
  EXPECT_EQ(Lines(out)[0],
            "campaign 1 \"results\": done, K=3, stratified sampler, adapted catalogue, 20 jobs, dataset synthetic");
  EXPECT_TRUE(std::regex_search(
      out, std::regex(R"(\ntop combination: test accuracy 7\d\.\d% at its selected epoch \(ranked by validation accuracy\)\n)")))
      << out;
  // Done: the bar is full although the failed job will never report its
  // last two epochs; the counts say so.
  EXPECT_CONTAINS(out, "progress [##############################] 100%  58/60 epochs");
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nsucceeded +19\n)"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nfailed +1\n)"))) << out;
  const json j = RunJson({"status", "1"});
  EXPECT_EQ(j["epochs_done"], 58);
  EXPECT_EQ(j["campaign"]["state"], "CAMPAIGN_STATE_DONE");
  EXPECT_EQ(Run({"-o", "csv", "status", "1"}),
            "STATE,JOBS\npending,0\nleased,0\nrunning,0\nsucceeded,19\nfailed,1\ncancelled,0\n");
}

// The issue's hostile spec (width 4, batch 4096, resize 512 on Swin + ViT):
// the dry run shows the estimate offline; the coordinator, whose only worker
// (sim-gpu0) has 24000 MiB, refuses it with exit 2 and the fields to change.
TEST_F(CliTest, SubmitShowsTheMemoryEstimateAndRefusesWhatNoWorkerHolds) {
  const std::string spec = TempFile("hostile.yaml");
  std::ofstream(spec) << "name: hostile\nfamilies: [SwinTransformer, VisionTransformer]\nk: 2\nbudget: 1\n"
                         "dataset: {name: cifar10, resize: 512}\nrecipe: {batch_size: 4096, width: 4}\n";
  const std::string dry = Run({"submit", spec, "--dry-run"});
  EXPECT_CONTAINS(dry, "memory: the heaviest job (SwinTransformer + VisionTransformer) needs ~");
  EXPECT_CONTAINS(dry, "recipe.batch_size 4096, dataset.resize 512, recipe.width 4");
  const json j = RunJson({"submit", spec, "--dry-run"});
  EXPECT_GT(std::stoll(j.value("memory_estimate_mb", std::string("0"))), 1024 * 1024) << j.dump();

  const ProcessResult refused = world().Ctl({"submit", spec});
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_CONTAINS(refused.err, spec + ": memory: recipe.batch_size x dataset.resize x recipe.width");
  EXPECT_CONTAINS(refused.err, "(24000 MiB, worker 'sim-gpu0')");
  std::remove(spec.c_str());
}

TEST_F(CliTest, SubmitThenPauseResumeCancel) {
  const std::string spec = TempFile("spec.yaml");
  std::ofstream(spec) << "name: control\nfamilies: [AirNet, AlexNet, BagNet]\nk: 2\nbudget: 3\n"
                         "catalogue: adapted\ndataset: {name: synthetic}\nrecipe: {epochs: 1}\n";
  const std::string submitted = Run({"submit", spec});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(submitted, m, std::regex(R"(^submitted campaign (\d+) \("control"\): 3 jobs)")))
      << submitted;
  const std::string id = m[1];
  std::remove(spec.c_str());

  EXPECT_CONTAINS(Run({"pause", id}), "paused");
  EXPECT_CONTAINS(Lines(Run({"status", id}))[0], ": paused,");
  EXPECT_CONTAINS(Run({"status", id}), "waiting: 3 pending jobs wait: the campaign is paused");
  EXPECT_CONTAINS(Run({"resume", id}), "resumed");
  EXPECT_CONTAINS(Lines(Run({"status", id}))[0], ": active,");
  EXPECT_CONTAINS(Run({"cancel", id}), "3 unfinished jobs cancelled");
  EXPECT_EQ(RunJson({"cancel", id})["jobs_cancelled"], 0);  // again: nothing left, still fine
  // Refused: a cancelled campaign cannot pause; unknown ids are not found.
  ProcessResult refused = world().Ctl({"pause", id});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_CONTAINS(refused.err, "only an active one can pause");
  EXPECT_EQ(world().Ctl({"cancel", "999"}).exit_code, 1);
  EXPECT_EQ(world().Ctl({"resume", "999"}).exit_code, 1);
}

TEST_F(CliTest, WatchFollowsUntilDone) {
  // Priority: this campaign's jobs go before any other test's pending ones.
  auto id = world().Submit(
      "name: watched\nfamilies: [AirNet, AlexNet, BagNet]\nk: 2\nbudget: 3\npriority: 100\n"
      "catalogue: adapted\ndataset: {name: synthetic}\nrecipe: {epochs: 2}\n");
  ASSERT_TRUE(id.ok()) << id.status();
  BackgroundProcess watch(world().CtlArgv({"watch", std::to_string(*id)}));
  // Wait for the first snapshot, then do the work while it watches.
  for (int i = 0; i < 200 && !Contains(watch.Output(), "campaign"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  auto worker = world().NewWorker("sim-watch");
  ASSERT_NE(worker, nullptr);
  SimOptions sim;
  sim.max_jobs = 3;
  auto ran = worker->Run(sim);
  ASSERT_TRUE(ran.ok()) << ran.status();
  ASSERT_EQ(*ran, 3);
  ProcessResult r = watch.Wait(30);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto lines = Lines(r.out);
  ASSERT_GE(lines.size(), 2u) << r.out;  // at least the first and the final snapshot
  EXPECT_CONTAINS(lines.front(), absl::StrCat("campaign ", *id, ": active, 0/6 epochs"));
  EXPECT_CONTAINS(lines.back(), absl::StrCat("campaign ", *id, ": done, 6/6 epochs (100%)"));

  // JSON: one snapshot per line; the finished campaign answers at once.
  ProcessResult j = world().Ctl({"-o", "json", "watch", std::to_string(*id)});
  EXPECT_EQ(j.exit_code, 0);
  ASSERT_EQ(Lines(j.out).size(), 1u) << j.out;
  EXPECT_EQ(json::parse(j.out)["campaign"]["state"], "CAMPAIGN_STATE_DONE");
  // On a terminal the status view is drawn (and redrawn in place).
  ProcessOptions tty;
  tty.pty = true;
  ProcessResult t = world().Ctl({"watch", std::to_string(*id)}, tty);
  EXPECT_EQ(t.exit_code, 0) << t.out;
  EXPECT_CONTAINS(t.out, "progress [");
  EXPECT_CONTAINS(t.out, "Ctrl-C stops watching");
}

TEST_F(CliTest, WatchStopsOnCtrlCAndFailsOnCancel) {
  // Paused: nothing will lease it, so the watch goes on until interrupted.
  auto id = world().Submit(
      "name: waiting\nfamilies: [AirNet, AlexNet, BagNet]\nk: 2\nbudget: 3\n"
      "catalogue: adapted\ndataset: {name: synthetic}\nrecipe: {epochs: 1}\n");
  ASSERT_TRUE(id.ok()) << id.status();
  const std::string sid = std::to_string(*id);
  Run({"pause", sid});
  BackgroundProcess watch(world().CtlArgv({"watch", sid}));
  for (int i = 0; i < 200 && !Contains(watch.Output(), "campaign"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_CONTAINS(watch.Output(), ": paused,");
  watch.Signal(SIGINT);
  ProcessResult r = watch.Wait(10);
  EXPECT_EQ(r.exit_code, 130) << r.out << r.err;

  // Cancelled while watched: exit 1.
  BackgroundProcess watch2(world().CtlArgv({"watch", sid}));
  for (int i = 0; i < 200 && !Contains(watch2.Output(), "campaign"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  Run({"cancel", sid});
  ProcessResult r2 = watch2.Wait(10);
  EXPECT_EQ(r2.exit_code, 1) << r2.out << r2.err;
  EXPECT_CONTAINS(r2.err, "was cancelled");
  EXPECT_EQ(world().Ctl({"watch", "999"}).exit_code, 1);
}

// --- jobs and workers -----------------------------------------------------------

TEST_F(CliTest, WorkersShowsDeviceJobAndHeartbeat) {
  const std::string out = Run({"workers"});
  EXPECT_TRUE(std::regex_search(
      out, std::regex(R"(\n\d+ +sim-gpu0 +cuda \(Sim 4090\) +24000 MB +- +\d+s ago +yes)")))
      << out;
  const json j = RunJson({"workers"});
  bool found = false;
  for (const auto& w : j["workers"]) found |= w["name"] == "sim-gpu0" && w["alive"] == true;
  EXPECT_TRUE(found) << j.dump(2);
  EXPECT_EQ(Lines(Run({"-o", "csv", "workers"}))[0], "ID,NAME,DEVICE,MEMORY,JOB,LAST HEARTBEAT,ALIVE");
}

TEST_F(CliTest, JobsListsAndFiltersByState) {
  EXPECT_EQ(Lines(Run({"jobs", "1"})).size(), 21u);  // header + 20
  const std::string failed = Run({"jobs", "1", "--state", "failed"});
  ASSERT_EQ(Lines(failed).size(), 2u) << failed;
  EXPECT_TRUE(std::regex_search(
      failed, std::regex(R"(\n\d+ +AirNet \+ AlexNet \+ BagNet +failed +1/3 +1/3 +- +- +- +- +sim-gpu0 +simulated: loss became NaN)")))
      << failed;
  EXPECT_EQ(RunJson({"jobs", "1", "--state", "succeeded"})["jobs"].size(), 19u);
  EXPECT_EQ(Lines(Run({"jobs", "1", "--limit", "5"})).size(), 6u);
  const auto csv = Lines(Run({"-o", "csv", "jobs", "1", "--state", "succeeded", "--limit", "1"}));
  ASSERT_EQ(csv.size(), 2u);
  // Selected epoch 3 (the simulated validation curve rises to the end), its
  // validation and test accuracy, and the final test accuracy.
  EXPECT_TRUE(std::regex_match(csv[1], std::regex(R"(\d+,[A-Za-z +]+,succeeded,1/3,3/3,3,0\.\d+,0\.\d+,0\.\d+,sim-gpu0,3 bad image files skipped)")))
      << csv[1];
  EXPECT_EQ(world().Ctl({"jobs", "1", "--state", "sleeping"}).exit_code, 2);
}

TEST_F(CliTest, JobShowsEpochTableSparklineAndExperts) {
  const json jobs = RunJson({"jobs", "1", "--state", "succeeded", "--limit", "1"});
  const std::string id = jobs["jobs"][0]["job_id"];  // int64 is a JSON string
  const std::string out = Run({"job", id});
  EXPECT_CONTAINS(out, absl::StrCat("job ", id, " of campaign 1: "));
  EXPECT_CONTAINS(out, "state succeeded, attempt 1/3, epochs 3/3, worker sim-gpu0");
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nEPOCH +TRAIN LOSS +TRAIN ACC +VAL LOSS +VAL ACC +TEST LOSS +TEST ACC)")))
      << out;
  // The selected epoch is starred and summarised above the table.
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n3 \* +\d\.\d{4} +\d+\.\d% +\d\.\d{4} +\d+\.\d% +\d\.\d{4} +\d+\.\d%)")))
      << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex(R"(\nselected epoch 3 \(\*\): validation accuracy \d+\.\d%, test accuracy \d+\.\d%; final test accuracy \d+\.\d%\n)")))
      << out;
  // Rising accuracy: the lowest and highest blocks, in order.
  EXPECT_TRUE(std::regex_search(out, std::regex("test accuracy  ▁(▄|▅)█  "))) << out;
  EXPECT_CONTAINS(out, "experts at epoch 3");
  // The files the worker's dataset load skipped (CtlWorld's simulated worker).
  EXPECT_CONTAINS(out, "\nskipped 3 bad image files (dataset.skip_bad_images): train/cat 2, test/dog 1\n");
  const json j = RunJson({"job", id});
  EXPECT_EQ(j["job"]["skipped_images"], json({{"train/cat", 2}, {"test/dog", 1}}));
  ASSERT_EQ(j["epochs"].size(), 3u);
  EXPECT_EQ(j["epochs"][2]["epoch"], 3);
  EXPECT_EQ(j["job"]["state"], "JOB_STATE_SUCCEEDED");
  const auto csv = Lines(Run({"-o", "csv", "job", id}));
  ASSERT_EQ(csv.size(), 4u);
  EXPECT_EQ(csv[0].substr(0, 47), "EPOCH,TRAIN LOSS,TRAIN ACC,VAL LOSS,VAL ACC,TES");
  // A dead expert is shown as such (every AirNet ensemble lost AirNet).
  const json airnet = RunJson({"jobs", "1", "--state", "succeeded"});
  std::string airnet_id;
  for (const auto& jj : airnet["jobs"]) {
    if (jj["families"][0] == "AirNet") airnet_id = jj["job_id"];
  }
  ASSERT_FALSE(airnet_id.empty());
  EXPECT_TRUE(std::regex_search(Run({"job", airnet_id}), std::regex(R"(\nAirNet +0\.010 +1\.0% dead)")));
}

// --- results ----------------------------------------------------------------------

TEST_F(CliTest, LeaderboardRanksByValidationOrFinal) {
  const std::string out = Run({"leaderboard", "1", "--top", "3"});
  const auto lines = Lines(out);
  ASSERT_EQ(lines.size(), 4u) << out;
  EXPECT_TRUE(std::regex_search(lines[0], std::regex(R"(^# +JOB +FAMILIES +N +VALID +TEST +FINAL +EPOCH +TIME +STATE$)")))
      << out;
  EXPECT_TRUE(std::regex_search(
      lines[1], std::regex(R"(^1 +\d+ +DenseNet \+ ResNet \+ VGG +1 +7\d\.\d% +7\d\.\d% +7\d\.\d% +3 +\d+s +succeeded$)")))
      << out;
  const json j = RunJson({"leaderboard", "1"});
  ASSERT_EQ(j["entries"].size(), 19u);
  EXPECT_GE(j["entries"][0]["validation_accuracy"].get<double>(), j["entries"][1]["validation_accuracy"].get<double>());
  const json by_final = RunJson({"leaderboard", "1", "--by", "final"});
  ASSERT_EQ(by_final["entries"].size(), 19u);
  EXPECT_GE(by_final["entries"][0]["final_test_accuracy"].get<double>(),
            by_final["entries"][1]["final_test_accuracy"].get<double>());
  // The best epoch's test accuracy selects on the test set: not a ranking.
  EXPECT_EQ(world().Ctl({"leaderboard", "1", "--by", "best"}).exit_code, 2);
  const auto csv = Lines(Run({"-o", "csv", "leaderboard", "1", "--top", "1"}));
  ASSERT_EQ(csv.size(), 2u);
  // RUNG (asha campaigns' highest rung reached; 0 otherwise) is the last column.
  EXPECT_EQ(csv[0], "#,JOB,FAMILIES,N,VALIDATION,VALIDATION SD,TEST,TEST SD,FINAL,FINAL SD,EPOCH,EPOCHS,TIME,STATE,RUNG");
  EXPECT_TRUE(std::regex_match(
      csv[1], std::regex(R"(1,\d+,DenseNet \+ ResNet \+ VGG,1,0\.7\d+,,0\.7\d+,,0\.7\d+,,3,3,\d\.\d+,succeeded,0)")))
      << csv[1];
}

TEST_F(CliTest, FamiliesSortedByMeanWithLowYieldFlagged) {
  const std::string out = Run({"families", "1"});
  const auto lines = Lines(out);
  ASSERT_GE(lines.size(), 8u) << out;
  EXPECT_CONTAINS(lines[0], "test accuracy at the selected epoch by family (campaign mean ");
  EXPECT_TRUE(std::regex_search(
      lines[3], std::regex(R"(^ResNet +10 +10 +\d+\.\d% +\d+\.\d% +\d+\.\d% +\d+\.\d% \.\. \d+\.\d% +\d+\.\d% +\d+\.\d%$)")))
      << out;
  EXPECT_TRUE(std::regex_search(lines[8], std::regex(R"(^AirNet +9 +9 +.* +LOW YIELD: CI below campaign mean$)"))) << out;
  EXPECT_CONTAINS(out, "1 low-yield family\n");
  const json j = RunJson({"families", "1"});
  ASSERT_EQ(j["families"].size(), 6u);
  EXPECT_EQ(j["families"][0]["family"], "ResNet");
  EXPECT_EQ(j["families"][5]["family"], "AirNet");
  EXPECT_EQ(j["families"][5]["low_yield"], true);
  EXPECT_EQ(j["families"][0]["low_yield"], false);
  EXPECT_LT(j["families"][5]["ci95_high"].get<double>(), j["campaign_mean"].get<double>());
  const auto csv = Lines(Run({"-o", "csv", "families", "1"}));
  EXPECT_EQ(csv[0], "FAMILY,N,RUNS,VALID,MEAN,STD,CI95 LOW,CI95 HIGH,BEST,FINAL,LOW YIELD");
  EXPECT_TRUE(std::regex_match(csv[6], std::regex(R"(AirNet,9,9,0\.\d+,0\.\d+,0\.\d+,0\.\d+,0\.\d+,0\.\d+,0\.\d+,yes)")))
      << csv[6];
}

// Two campaigns' family rankings side by side; a campaign against itself
// agrees everywhere, and an unknown campaign is the coordinator's refusal.
TEST_F(CliTest, CompareTwoCampaignsFamilyRankings) {
  const std::string out = Run({"compare", "1", "1"});
  EXPECT_CONTAINS(out, "A: campaign 1 \"results\", stratified sampler, K=3, 19 succeeded jobs\n");
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nResNet +1 +10 +\d+\.\d% +\d+\.\d% \.\. \d+\.\d% +1 +10 +\d+\.\d% +\d+\.\d% \.\. \d+\.\d% +\+0\.0)")))
      << out;
  EXPECT_CONTAINS(out, "\n6 families in both; Spearman rank correlation of the two rankings 1.00\n");
  const json j = RunJson({"compare", "1", "1"});
  ASSERT_EQ(j["rows"].size(), 6u);
  EXPECT_EQ(j["rows"][0]["rank_a"], 1);
  EXPECT_EQ(j["rows"][0]["rank_b"], 1);
  EXPECT_EQ(j["rows"][0]["difference"].get<double>(), 0.0);
  EXPECT_EQ(j["spearman_rho"].get<double>(), 1.0);
  EXPECT_EQ(Lines(Run({"-o", "csv", "compare", "1", "1"}))[0],
            "FAMILY,RANK A,N A,MEAN A,CI95 LOW A,CI95 HIGH A,RANK B,N B,MEAN B,CI95 LOW B,CI95 HIGH B,B - A,SEPARATED");
  EXPECT_EQ(world().Ctl({"compare", "1", "999"}).exit_code, 1);
}

TEST_F(CliTest, PairsOverRepresentedAmongTheBest) {
  const std::string out = Run({"pairs", "1"});
  EXPECT_CONTAINS(out, "pairs over-represented among the best 10.0% of the finished combinations by validation accuracy");
  // The top 2 of 19 both hold DenseNet + ResNet, which is in 4 ensembles:
  // expected 4 * 2/19 = 0.42, lift 4.75.
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nDenseNet \+ ResNet +4 +2 +0\.42 +4\.75 +\d+\.\d% +\d+\.\d% +\d+\.\d%\n)")))
      << out;
  const json j = RunJson({"pairs", "1"});
  ASSERT_GT(j["pairs"].size(), 0u);
  for (const auto& p : j["pairs"]) EXPECT_GT(p["lift"].get<double>(), 1.0);
  EXPECT_EQ(RunJson({"pairs", "1", "--all"})["pairs"].size(), 15u);  // C(6,2)
  const auto all = Lines(Run({"-o", "csv", "pairs", "1", "--all", "--top-fraction", "1"}));
  ASSERT_EQ(all.size(), 16u);
  EXPECT_EQ(all[0], "PAIR,N,IN TOP,EXPECTED,LIFT,VALID,MEAN,FINAL");
  for (size_t i = 1; i < all.size(); ++i) EXPECT_TRUE(Contains(all[i], ",1,0.")) << all[i];  // lift 1 for all
}

TEST_F(CliTest, CoverageAgainstTheIdealAndAnchorWarning) {
  const std::string out = Run({"coverage", "1"});
  EXPECT_CONTAINS(out, "20 candidates, K=3 of N=6 families: ideal share K/N = 50.0%; max/min count ratio 1.00");
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nAirNet +10 +50\.0% +50\.0% +1\.00 +█+)"))) << out;
  EXPECT_CONTAINS(out, "no anchor");
  // Attrition: the one failed job (AirNet + AlexNet + BagNet) is reported;
  // all 20 combinations are taken, so refill has nothing to draw.
  EXPECT_CONTAINS(out, "\nevaluated: 19 of 20 candidates succeeded, 1 failed for good; refill on (0 replacements drawn)\n");
  EXPECT_CONTAINS(out, "failures by family: ");
  EXPECT_CONTAINS(out, "AirNet 1 (1 x simulated: loss became NaN)");
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nAirNet +10 +50\.0% +50\.0% +1\.00 +(█)+ +9 +1 *\n)"))) << out;
  // The published bias, reproduced: lexicographic order anchors AirNet.
  auto id = world().Submit(
      "name: biased\nfamilies: [AirNet, AlexNet, BagNet, DenseNet, ResNet, VGG]\nk: 2\n"
      "sampler: lexicographic\nbudget: 5\ncatalogue: adapted\ndataset: {name: synthetic}\nrecipe: {epochs: 1}\n");
  ASSERT_TRUE(id.ok()) << id.status();
  const std::string sid = std::to_string(*id);
  const std::string biased = Run({"coverage", sid});
  EXPECT_TRUE(std::regex_search(biased, std::regex(R"(\nAirNet +5 +100\.0% +33\.3% +3\.00 +(█){20} +ANCHOR +0 +0 *\n)")))
      << biased;
  EXPECT_CONTAINS(biased, "warning: anchor family AirNet: in more than 2K/N = 66.7% of the candidates");
  const json j = RunJson({"coverage", sid});
  EXPECT_EQ(j["families"][0]["anchor"], true);
  EXPECT_EQ(j["candidates"], 5);
  const std::string csv_row = Lines(Run({"-o", "csv", "coverage", sid}))[1];
  // Nothing evaluated yet: evaluated share 0, trivially within the bounds.
  EXPECT_TRUE(std::regex_match(csv_row, std::regex(R"(AirNet,5,1,0\.3333333333333333,3(\.0+\d)?,yes,0,0,0,yes)")))
      << csv_row;
  Run({"cancel", sid});
}

TEST_F(CliTest, EcologyTestsTheClaim) {
  const std::string out = Run({"ecology", "1"});
  EXPECT_CONTAINS(out, "at the last epoch of 19 finished ensembles");
  // MEAN SPEC: the simulated specialisation, 0.2 with AirNet, 0.6 without.
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nE < 0\.5 +9 +0 +0\.0% +1\.00 +\d+\.\d% +0\.200\n)"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nE >= 0\.5 +10 +10 +100\.0% +0\.00 +\d+\.\d% +0\.600\n)"))) << out;
  EXPECT_CONTAINS(out, "\nMEAN SPEC: I(class; routed expert) / H(class) at the last epoch");
  EXPECT_CONTAINS(out, "claim \"E >= 0.5 keeps every expert alive\": holds: all 10 ensembles with E >= 0.5");
  // At a lower threshold the AirNet ensembles (E = 0.3, one dead) refute it.
  const std::string low = Run({"ecology", "1", "--threshold", "0.2"});
  EXPECT_CONTAINS(low, "does not hold: 9 of 19 ensembles with E >= 0.2 lost an expert (jobs ");
  const json j = RunJson({"ecology", "1"});
  EXPECT_EQ(j["claim"]["holds"], true);
  EXPECT_EQ(j["buckets"][1]["share_all_alive"], 1.0);
  EXPECT_NEAR(j["buckets"][1]["mean_specialisation"].get<double>(), 0.6, 1e-12);
  EXPECT_EQ(j["points"].size(), 19u);
  EXPECT_EQ(Lines(Run({"ecology", "1", "--points"})).size(), 20u);
  EXPECT_EQ(Lines(Run({"-o", "csv", "ecology", "1"}))[0],
            "E,ENSEMBLES,ALL ALIVE,SHARE ALL ALIVE,MEAN DEAD,MEAN FINAL,MEAN SPEC");
  const auto points = Lines(Run({"-o", "csv", "ecology", "1", "--points"}));
  EXPECT_EQ(points[0], "JOB,FAMILIES,E,E LEARNED T,DEAD,FINAL,SPEC BITS,SPEC,NOTE");
  EXPECT_TRUE(std::regex_search(points[1], std::regex(R"(,0\.[26]\d*,$)"))) << points[1];
}

TEST_F(CliTest, EcologyPerClassShowsOneJobsExpertsByClass) {
  const json jobs = RunJson({"jobs", "1", "--state", "succeeded"});
  std::string id;
  std::vector<std::string> families;
  for (const auto& jj : jobs["jobs"]) {
    if (jj["families"][0] == "AirNet") continue;
    id = jj["job_id"];
    families = jj["families"].get<std::vector<std::string>>();
    break;
  }
  ASSERT_FALSE(id.empty());
  const std::string out = Run({"ecology", "1", "--per-class", id});
  EXPECT_CONTAINS(out, absl::StrCat("job ", id, " (", absl::StrJoin(families, " + "),
                                    "), selected epoch 3: test accuracy of each expert alone, per class\n"));
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nEXPERT +ROUTED +ALL +C0 +C1 +C2 +C3 +C4 +C5 +C6 +C7 +C8 +C9 *\n)")))
      << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("\n" + families[1] + R"( +33\.3% +\d+\.\d%( +\d+\.\d%){10} *\n)")))
      << out;
  // 0.6 of log2(10) bits.
  EXPECT_CONTAINS(out, "\nspecialisation: I(class; routed expert) = 1.993 bits = 0.600 of H(class)");
  const json j = RunJson({"ecology", "1", "--per-class", id});
  EXPECT_EQ(j["epoch"], 3);
  EXPECT_EQ(j["selected"], true);
  EXPECT_EQ(j["num_classes"], 10);
  ASSERT_EQ(j["experts"].size(), 3u);
  EXPECT_EQ(j["experts"][0]["family"], families[0]);
  ASSERT_EQ(j["experts"][0]["class_accuracy"].size(), 10u);
  // Expert 0 is the simulated specialist of classes 0, 3, 6 and 9.
  EXPECT_NEAR(j["experts"][0]["class_accuracy"][3].get<double>() - j["experts"][0]["class_accuracy"][1].get<double>(),
              0.15, 1e-12);
  EXPECT_NEAR(j["specialisation_normalised"].get<double>(), 0.6, 1e-12);
  EXPECT_NEAR(j["specialisation_bits"].get<double>(), 0.6 * std::log2(10.0), 1e-12);
  const auto csv = Lines(Run({"-o", "csv", "ecology", "1", "--per-class", id}));
  ASSERT_EQ(csv.size(), 4u);
  EXPECT_EQ(csv[0], "EXPERT,ROUTED,ALL,C0,C1,C2,C3,C4,C5,C6,C7,C8,C9");
  EXPECT_EQ(csv[1].rfind(families[0] + ",0.3333333333333333,", 0), 0u) << csv[1];
  // A job of another campaign and --points with --per-class are usage
  // errors; a job that does not exist is the coordinator's refusal.
  EXPECT_EQ(world().Ctl({"ecology", "2", "--per-class", id}).exit_code, 2);
  EXPECT_EQ(world().Ctl({"ecology", "1", "--points", "--per-class", id}).exit_code, 2);
  EXPECT_EQ(world().Ctl({"ecology", "1", "--per-class", "999999"}).exit_code, 1);
}

// --- files ------------------------------------------------------------------------

TEST_F(CliTest, ExportCsvAndJsonHoldEveryJobAndEpoch) {
  const auto csv = Lines(Run({"export", "1", "--format", "csv"}));
  ASSERT_EQ(csv.size(), 1u + 19 * 3 + 1) << "header + 19 jobs x 3 epochs + the failed job's 1";
  EXPECT_EQ(csv[0].rfind("campaign_id,job_id,families,state,attempt,final_test_accuracy,", 0), 0u) << csv[0];
  EXPECT_TRUE(std::regex_search(csv[1], std::regex(R"(;)"))) << "per-expert lists: " << csv[1];

  const std::string file = TempFile("export.json");
  ProcessResult r = world().Ctl({"export", "1", "--format", "json", "--out", file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "exported campaign 1: 20 jobs, 58 epochs to ");
  std::ifstream in(file);
  const json j = json::parse(in);
  EXPECT_EQ(j["campaign"]["name"], "results");
  ASSERT_EQ(j["jobs"].size(), 20u);
  int epochs = 0;
  for (const auto& job : j["jobs"]) epochs += static_cast<int>(job["epochs"].size());
  EXPECT_EQ(epochs, 58);
  std::remove(file.c_str());
  // -o json picks JSON when --format is not given.
  EXPECT_EQ(RunJson({"export", "1"})["jobs"].size(), 20u);
  EXPECT_EQ(world().Ctl({"export", "999"}).exit_code, 1);
  EXPECT_EQ(world().Ctl({"export", "1", "--out", "/nonexistent-dir/x.csv"}).exit_code, 2);
}

}  // namespace
}  // namespace moe4::testing
