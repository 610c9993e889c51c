// A table of malformed and hostile campaign specs submitted through the real
// gRPC Submit of a real coordinator over a fresh database. Each must be
// refused with INVALID_ARGUMENT whose message names the offending field, fast,
// and nothing may be written: no campaign, no job, no event.
//
// Every case is the valid base spec with one thing broken, and the base itself
// is checked to be accepted, so a refusal is due to the one broken thing.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tests/coordinator/service_fixture.h"

namespace moe4::coordinator {
namespace {

using testing::QueryOne;

constexpr char kRemove[] = "\x01remove";
constexpr uint64_t kMaxBudget = 1000;  // this coordinator's --max-budget
constexpr int kMaxEpochs = 500;        // and --max-epochs

// The valid spec every case starts from, key by key.
std::vector<std::pair<std::string, std::string>> BaseFields() {
  return {{"name", "hostile-base"},
          {"families", "[AirNet, AlexNet, BagNet, ResNet, VGG]"},
          {"k", "2"},
          {"sampler", "stratified"},
          {"budget", "4"},
          {"seed", "1"},
          {"catalogue", "adapted"},
          {"dataset", "{name: synthetic}"},
          {"recipe", "{epochs: 2}"}};
}

std::string Render(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (v != kRemove) absl::StrAppend(&out, k, ": ", v, "\n");
  }
  return out;
}

std::string Base() { return Render(BaseFields()); }

// The base with `key` set to `value` (added when absent; kRemove drops it).
std::string With(const std::string& key, const std::string& value) {
  auto fields = BaseFields();
  bool found = false;
  for (auto& [k, v] : fields) {
    if (k == key) {
      v = value;
      found = true;
    }
  }
  if (!found) fields.emplace_back(key, value);
  return Render(fields);
}

std::string Families(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(i % 2 ? "AirNet" : "VGG");
  return "[" + absl::StrJoin(names, ", ") + "]";
}

// A billion-laughs style alias bomb: `depth` levels of `width` aliases.
std::string AliasBomb(int depth, int width, const std::string& target_key) {
  std::string y = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int d = 1; d < depth; ++d) {
    std::vector<std::string> refs(width, absl::StrCat("*l", d - 1));
    absl::StrAppend(&y, "l", d, ": &l", d, " [", absl::StrJoin(refs, ", "), "]\n");
  }
  absl::StrAppend(&y, target_key, ": *l", depth - 1, "\n");
  return y;
}

std::string Nested(int depth, char open, char close, const std::string& inner) {
  return std::string(depth, open) + inner + std::string(depth, close);
}

std::string DeepMap(int depth) {
  std::string y;
  for (int i = 0; i < depth; ++i) y += "{a: ";
  y += "1";
  for (int i = 0; i < depth; ++i) y += "}";
  return y;
}

struct Case {
  std::string what;
  std::string yaml;
  std::string field;  // the message must contain this (alternatives split by '|')
};

std::vector<Case> Cases() {
  const std::string many_keys = [] {
    std::string y = Base();
    for (int i = 0; i < 2000; ++i) absl::StrAppend(&y, "junk", i, ": ", i, "\n");
    return y;
  }();
  return {
      // --- the document itself
      {"empty after whitespace", "   \n\n", "spec"},
      {"a list, not a mapping", "- name\n- families\n", "spec"},
      {"a bare scalar", "hello", "spec"},
      {"unclosed flow sequence", "name: x\nfamilies: [AirNet, VGG\n", "spec"},
      {"tab indentation", "name: x\ndataset:\n\tname: synthetic\n", "spec"},
      // (Bytes that are not UTF-8 never reach the parser: protobuf refuses them
      // in a string field; hostile_rpc_test covers that.)
      {"control bytes and U+FFFD", "\x01\x02\x7f\x1b[2J name: \xef\xbf\xbd\xc2\x80", "spec|name"},
      {"bigger than the limit", Base() + "# " + std::string(300 * 1024, 'x') + "\n", "spec"},
      // Regression: 2000 problems made a message too big for the grpc-message
      // trailer; the client saw "metadata size exceeds limit" instead.
      {"2000 unknown keys", many_keys, "junk0"},
      {"unknown top-level field", With("budgett", "4"), "budgett"},
      {"SQL as a key", Base() + "\"DROP TABLE campaigns;--\": 1\n", "DROP TABLE campaigns"},
      {"merge key", Base() + "<<: {k: 9}\n", "<<"},
      {"alias bomb as a field", AliasBomb(9, 10, "families"), "families|l0"},
      {"alias bomb as the name", AliasBomb(9, 10, "name"), "name|l0"},
      {"deeply nested list", With("families", Nested(20000, '[', ']', "AirNet")), "spec|families"},
      {"deeply nested map", With("recipe", DeepMap(5000)), "spec|recipe"},
      {"undefined alias", With("families", "*nowhere"), "spec|families"},
      // --- name
      {"name missing", With("name", kRemove), "name"},
      {"name a list", With("name", "[a, b]"), "name"},
      {"name a map", With("name", "{a: 1}"), "name"},
      {"name empty", With("name", "\"\""), "name"},
      {"name null", With("name", "~"), "name"},
      {"name 101 chars", With("name", std::string(101, 'n')), "name"},
      {"name 200 KB", With("name", std::string(200 * 1024, 'n')), "name"},
      {"name SQL injection", With("name", "\"x'); DROP TABLE campaigns; --\""), "name"},
      {"name unicode", With("name", "\"caf\xc3\xa9-\xe6\xbc\xa2\xe5\xad\x97\""), "name"},
      {"name emoji", With("name", "\"run-\xf0\x9f\x9a\x80\""), "name"},
      {"name NUL escape", With("name", "\"a\\0b\""), "name"},
      {"name right-to-left override", With("name", "\"ok\xe2\x80\xae" "gpj.exe\""), "name"},
      {"name path traversal", With("name", "../../etc/passwd"), "name"},
      {"name newline escape", With("name", "\"x\\nUPDATE jobs SET state='failed'\""), "name"},
      {"name binary tag", With("name", "!!binary aGVsbG8="), "name"},
      // --- families / exclude
      {"families a scalar", With("families", "AirNet"), "families"},
      {"families empty", With("families", "[]"), "families"},
      {"families a map", With("families", "{AirNet: 1}"), "families"},
      {"unknown family", With("families", "[AirNet, Resnet, VGG]"), "families[1]"},
      {"duplicate family", With("families", "[AirNet, VGG, AirNet]"), "families[2]"},
      {"family SQL injection", With("families", "[AirNet, \"VGG' OR '1'='1\"]"), "families[1]"},
      {"family a nested list", With("families", "[AirNet, [VGG]]"), "families[1]"},
      {"family null", With("families", "[AirNet, ~, VGG]"), "families[1]"},
      {"family wrong case", With("families", "[airnet, VGG]"), "families[0]"},
      {"family unicode lookalike", With("families", "[AirNet, \"V\xd0\x93G\"]"), "families[1]"},
      {"family with NUL", With("families", "[AirNet, \"VGG\\0\"]"), "families[1]"},
      {"family 10 KB", With("families", "[AirNet, " + std::string(10240, 'F') + "]"),
       "families[1]"},
      {"101 families", With("families", Families(101)), "families"},
      {"exclude unknown", Base() + "exclude: [Nope]\n", "exclude[0]"},
      {"exclude everything",
       Base() + "exclude: [AirNet, AlexNet, BagNet, ResNet, VGG]\n", "families"},
      // --- k
      {"k zero", With("k", "0"), "k"},
      {"k negative", With("k", "-1"), "k"},
      {"k above 8", With("k", "9"), "k"},
      {"k above the pool", With("k", "6"), "k"},
      {"k a word", With("k", "four"), "k"},
      {"k fractional", With("k", "2.5"), "k"},
      {"k overflows int64", With("k", "99999999999999999999999"), "k"},
      {"k a list", With("k", "[2]"), "k"},
      // --- sampler and budget
      {"sampler unknown", With("sampler", "greedy"), "sampler"},
      {"sampler a list", With("sampler", "[stratified]"), "sampler"},
      {"budget missing", With("budget", kRemove), "budget"},
      {"budget zero", With("budget", "0"), "budget"},
      {"budget negative", With("budget", "-5"), "budget"},
      {"budget above C(5,2)", With("budget", "11"), "budget"},
      {"budget int64 max", With("budget", "9223372036854775807"), "budget"},
      {"budget uint64 max", With("budget", "18446744073709551615"), "budget"},
      {"budget exponent", With("budget", "1e6"), "budget"},
      {"budget hex above C(5,2)", With("budget", "0x10"), "budget"},
      {"budget above the cap",
       "name: cap\nk: 4\nbudget: " + std::to_string(kMaxBudget + 1) + "\n", "budget"},
      {"exhaustive above the cap", "name: cap\nk: 4\nsampler: exhaustive\n", "budget"},
      {"exhaustive with a partial budget", With("sampler", "exhaustive"), "budget"},
      // --- the catalogue
      {"catalogue unknown", With("catalogue", "torchvision"), "catalogue"},
      {"catalogue as a list", With("catalogue", "[lemur, adapted]"), "catalogue"},
      {"lemur on inputs too small", With("catalogue", "lemur"), "dataset"},
      // --- other integers
      {"seed negative", With("seed", "-1"), "seed"},
      {"seed above int64", With("seed", "18446744073709551616"), "seed"},
      {"max_attempts zero", Base() + "max_attempts: 0\n", "max_attempts"},
      {"max_attempts 101", Base() + "max_attempts: 101\n", "max_attempts"},
      {"priority 1e9", Base() + "priority: 1000000000\n", "priority"},
      {"max_job_seconds negative", Base() + "max_job_seconds: -1\n", "max_job_seconds"},
      {"max_job_seconds a year", Base() + "max_job_seconds: 31536000\n", "max_job_seconds"},
      // --- recipe
      {"recipe a scalar", With("recipe", "5"), "recipe"},
      {"recipe a list", With("recipe", "[epochs, 2]"), "recipe"},
      {"recipe typo", With("recipe", "{epochs: 2, lrr: 0.1}"), "recipe.lrr"},
      {"epochs zero", With("recipe", "{epochs: 0}"), "recipe.epochs"},
      {"epochs negative", With("recipe", "{epochs: -3}"), "recipe.epochs"},
      {"epochs above the cap", With("recipe", "{epochs: 501}"), "recipe.epochs"},
      {"epochs absurd", With("recipe", "{epochs: 1000000000000}"), "recipe.epochs"},
      {"epochs a word", With("recipe", "{epochs: ten}"), "recipe.epochs"},
      {"lr negative", With("recipe", "{epochs: 2, lr: -0.1}"), "recipe.lr"},
      {"lr zero", With("recipe", "{epochs: 2, lr: 0}"), "recipe.lr"},
      {"lr NaN", With("recipe", "{epochs: 2, lr: .nan}"), "recipe.lr"},
      {"lr infinite", With("recipe", "{epochs: 2, lr: .inf}"), "recipe.lr"},
      {"lr 1e308", With("recipe", "{epochs: 2, lr: 1e308}"), "recipe.lr"},
      {"lr a word", With("recipe", "{epochs: 2, lr: fast}"), "recipe.lr"},
      {"batch_size zero", With("recipe", "{epochs: 2, batch_size: 0}"), "recipe.batch_size"},
      {"batch_size absurd", With("recipe", "{epochs: 2, batch_size: 100000000}"),
       "recipe.batch_size"},
      {"warmup beyond epochs", With("recipe", "{epochs: 2, warmup_epochs: 5}"),
       "recipe.warmup_epochs"},
      {"min_lr above lr", With("recipe", "{epochs: 2, lr: 0.001, min_lr: 0.5}"), "recipe.min_lr"},
      {"gate_top_k above k", With("recipe", "{epochs: 2, gate_top_k: 3}"), "recipe.gate_top_k"},
      {"temperature 100", With("recipe", "{epochs: 2, gate_temperature: 100}"),
       "recipe.gate_temperature"},
      {"width zero", With("recipe", "{epochs: 2, width: 0}"), "recipe.width"},
      {"weight_decay negative", With("recipe", "{epochs: 2, weight_decay: -1}"),
       "recipe.weight_decay"},
      {"label_smoothing 1", With("recipe", "{epochs: 2, label_smoothing: 1}"),
       "recipe.label_smoothing"},
      // --- dataset
      {"dataset a scalar", With("dataset", "cifar"), "dataset"},
      {"dataset unknown", With("dataset", "{name: imagenet}"), "dataset.name"},
      {"dataset without name", With("dataset", "{path: /data}"), "dataset.name"},
      {"dataset name SQL", With("dataset", "{name: \"x'; DELETE FROM jobs;--\"}"), "dataset.name"},
      {"synthetic knob out of range", With("dataset", "{name: \"synthetic:channels=100\"}"),
       "dataset.name"},
      {"synthetic shell knob", With("dataset", "{name: \"synthetic:rm -rf /=1\"}"),
       "dataset.name"},
      {"synthetic empty options", With("dataset", "{name: \"synthetic:\"}"), "dataset.name"},
      {"train_subset negative", With("dataset", "{name: synthetic, train_subset: -1}"),
       "dataset.train_subset"},
      {"test_subset 1e100", With("dataset", "{name: synthetic, test_subset: 1e100}"),
       "dataset.test_subset"},
      {"resize 8", With("dataset", "{name: synthetic, resize: 8}"), "dataset.resize"},
      {"path 5000 chars",
       With("dataset", "{name: synthetic, path: " + std::string(5000, 'p') + "}"),
       "dataset.path"},
      {"dataset unknown key", With("dataset", "{name: synthetic, url: \"http://x\"}"),
       "dataset.url"},
      // --- requirements
      {"device kind tpu", Base() + "requirements: {device_kind: tpu}\n",
       "requirements.device_kind"},
      {"memory negative", Base() + "requirements: {min_memory_mb: -1}\n",
       "requirements.min_memory_mb"},
      {"requirements a list", Base() + "requirements: [cpu]\n", "requirements"},
  };
}

class HostileSpecTest : public ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << db_.error();
    CoordinatorOptions o = Options();
    o.limits.max_budget = kMaxBudget;
    o.limits.max_epochs = kMaxEpochs;
    auto s = CoordinatorServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    Connect();
  }
  std::string Count(const std::string& table) {
    return QueryOne(db_.url(), "SELECT count(*) FROM " + table);
  }
};

TEST_F(HostileSpecTest, TheBaseSpecIsAccepted) {
  moe4::v1::SubmitResponse resp;
  grpc::Status s = Submit(Base(), /*dry_run=*/true, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.jobs(), 4);
  // And a spec at exactly the bounds is fine too.
  s = Submit("name: cap\nk: 4\ncatalogue: adapted\nbudget: " + std::to_string(kMaxBudget) +
                 "\nrecipe: {epochs: " + std::to_string(kMaxEpochs) + "}\n",
             /*dry_run=*/true, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

TEST_F(HostileSpecTest, EveryHostileSpecIsRefusedNamingTheFieldAndWritesNothing) {
  const std::vector<Case> cases = Cases();
  ASSERT_GE(cases.size(), 50u);
  double slowest = 0;
  std::string slowest_case;
  for (const Case& c : cases) {
    for (bool dry_run : {false, true}) {
      moe4::v1::SubmitResponse resp;
      const auto start = std::chrono::steady_clock::now();
      const grpc::Status s = Submit(c.yaml, dry_run, &resp);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (seconds > slowest) {
        slowest = seconds;
        slowest_case = c.what;
      }
      EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << c.what << (dry_run ? " (dry run)" : "") << ": " << s.error_message();
      bool named = false;
      for (absl::string_view field : absl::StrSplit(c.field, '|')) {
        named = named || s.error_message().find(std::string(field)) != std::string::npos;
      }
      EXPECT_TRUE(named) << c.what << ": message does not name " << c.field << ":\n"
                         << s.error_message().substr(0, 500);
      EXPECT_EQ(resp.campaign_id(), 0) << c.what;
      EXPECT_LE(s.error_message().size(), 2100u) << c.what << ": message not bounded";
      EXPECT_LT(seconds, 5.0) << c.what << " took " << seconds << " s";
    }
  }
  std::cout << cases.size() << " hostile specs refused; slowest: " << slowest_case << " ("
            << slowest << " s)\n";
  EXPECT_EQ(Count("campaigns"), "0");
  EXPECT_EQ(Count("jobs"), "0");
  EXPECT_EQ(Count("events"), "0");
  // A long problem list is cut at a line and says how much is missing.
  const auto many_case = std::find_if(cases.begin(), cases.end(),
                                     [](const Case& c) { return c.what == "2000 unknown keys"; });
  ASSERT_NE(many_case, cases.end());
  moe4::v1::SubmitResponse resp;
  const grpc::Status many = Submit(many_case->yaml, true, &resp);
  EXPECT_NE(many.error_message().find("more lines"), std::string::npos) << many.error_message();
  // The coordinator is still healthy and accepts a good spec afterwards.
  moe4::v1::SubmitResponse ok;
  ASSERT_TRUE(Submit(Base(), false, &ok).ok());
  EXPECT_GT(ok.campaign_id(), 0);
  EXPECT_EQ(Count("jobs"), "4");
}

TEST_F(HostileSpecTest, HostileTextInAnAcceptedSpecIsStoredVerbatimNotExecuted) {
  // Comments may hold anything; the spec is stored as text, as a parameter.
  const std::string yaml = Base() + "# '); DROP TABLE jobs; -- \xe2\x80\xae \\x00 $1 $$\n";
  moe4::v1::SubmitResponse resp;
  ASSERT_TRUE(Submit(yaml, false, &resp).ok());
  EXPECT_EQ(QueryOne(db_.url(), "SELECT spec_yaml FROM campaigns WHERE id = " +
                                    std::to_string(resp.campaign_id())),
            yaml);
  EXPECT_EQ(Count("jobs"), "4");
}

}  // namespace
}  // namespace moe4::coordinator
