// moe4ctl ecology ID: dead experts against the ecology parameter
// E = T*H/(O+B) at each finished ensemble's last epoch, bucketed at a
// threshold (0.5), to test the claim that E >= 0.5 keeps every expert alive.
// E is the recipe's (T as configured): +inf when O+B = 0 < T*H, which counts
// as above any threshold; undefined (NaN, O+B = T*H = 0) in a bucket of its
// own, with the reason. --points also shows E with the learned T.
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"
#include "nlohmann/json.hpp"

namespace moe4::ctl {
namespace {

struct Bucket {
  std::string label;
  int ensembles = 0;
  int all_alive = 0;
  double dead_sum = 0;
  double accuracy_sum = 0;

  void Add(const moe4::v1::EcologyPoint& p) {
    ++ensembles;
    all_alive += p.dead_experts() == 0;
    dead_sum += p.dead_experts();
    accuracy_sum += p.final_test_accuracy();
  }
  double share_alive() const { return ensembles ? double(all_alive) / ensembles : NAN; }
  double mean_dead() const { return ensembles ? dead_sum / ensembles : NAN; }
  double mean_accuracy() const { return ensembles ? accuracy_sum / ensembles : NAN; }
};

nlohmann::json NumberOrNull(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

}  // namespace

int Ecology(const EcologyOptions& options, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::EcologyRequest request;
  request.set_campaign_id(options.campaign_id);
  moe4::v1::EcologyResponse response;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::Ecology, request, &response,
                           absl::StrCat("ecology ", options.campaign_id)))) {
    return code;
  }
  const std::string t = absl::StrCat(options.threshold);
  Bucket below{absl::StrCat("E < ", t)}, above{absl::StrCat("E >= ", t)}, undefined{"E undefined"};
  std::vector<int64_t> counterexamples;  // E above the threshold, yet an expert died
  std::string undefined_reason;
  for (const auto& p : response.points()) {
    // Undefined E (0/0) neither supports nor refutes the claim.
    if (std::isnan(p.ecology())) {
      undefined.Add(p);
      if (undefined_reason.empty()) undefined_reason = p.ecology_undefined();
    } else if (p.ecology() >= options.threshold) {  // +inf too
      above.Add(p);
      if (p.dead_experts() > 0) counterexamples.push_back(p.job_id());
    } else {
      below.Add(p);
    }
  }
  // The claim holds when every ensemble above the threshold kept its experts;
  // with none above it, it is untested.
  const bool tested = above.ensembles > 0;
  const bool holds = tested && counterexamples.empty();

  // The undefined bucket only when something fell into it.
  std::vector<const Bucket*> buckets = {&below, &above};
  if (undefined.ensembles > 0) buckets.push_back(&undefined);
  if (env.format == OutputFormat::kJson) {
    nlohmann::json json;
    json["threshold"] = options.threshold;
    for (const Bucket* b : buckets) {
      json["buckets"].push_back({{"range", b->label},
                                 {"ensembles", b->ensembles},
                                 {"all_alive", b->all_alive},
                                 {"share_all_alive", NumberOrNull(b->share_alive())},
                                 {"mean_dead_experts", NumberOrNull(b->mean_dead())},
                                 {"mean_final_test_accuracy", NumberOrNull(b->mean_accuracy())}});
    }
    json["claim"] = {{"statement", absl::StrCat("E >= ", t, " keeps every expert alive")},
                     {"holds", tested ? nlohmann::json(holds) : nlohmann::json()},
                     {"counterexample_job_ids", counterexamples}};
    json["points"] = nlohmann::json::parse(ToJson(response)).value("points", nlohmann::json::array());
    *env.out << json.dump(2) << "\n";
    return kExitOk;
  }
  if (options.points) {
    const bool csv = env.format == OutputFormat::kCsv;
    Table table({"JOB", "FAMILIES", "E", "E LEARNED T", "DEAD", "FINAL", "NOTE"});
    for (const auto& p : response.points()) {
      table.AddRow({std::to_string(p.job_id()), absl::StrJoin(p.families(), " + "),
                    csv ? ExactNumber(p.ecology()) : Fixed(p.ecology(), 3),
                    csv ? ExactNumber(p.ecology_learned()) : Fixed(p.ecology_learned(), 3),
                    p.dead_experts() > 0 ? env.style.Red(std::to_string(p.dead_experts())) : "0",
                    env.Pct(p.final_test_accuracy()), p.ecology_undefined()});
    }
    table.Print(env.format, *env.out);
    return kExitOk;
  }
  Table table({"E", "ENSEMBLES", "ALL ALIVE", "SHARE ALL ALIVE", "MEAN DEAD", "MEAN FINAL"});
  for (const Bucket* b : buckets) {
    table.AddRow({b->label, std::to_string(b->ensembles), std::to_string(b->all_alive), env.Pct(b->share_alive()),
                  env.format == OutputFormat::kCsv ? ExactNumber(b->mean_dead()) : Fixed(b->mean_dead(), 2),
                  env.Pct(b->mean_accuracy())});
  }
  if (env.format == OutputFormat::kCsv) {
    table.PrintCsv(*env.out);
    return kExitOk;
  }
  std::ostream& out = *env.out;
  out << "dead experts against E = T*H/(O+B) at the last epoch of " << response.points_size()
      << " finished ensembles\n\n";
  table.PrintAligned(out);
  if (undefined.ensembles > 0) out << "\nE undefined: " << undefined_reason << "\n";
  out << "\nclaim \"E >= " << t << " keeps every expert alive\": ";
  if (!tested) {
    out << env.style.Yellow(absl::StrCat("untested: no ensemble reached E >= ", t)) << "\n";
  } else if (holds) {
    out << env.style.Green(absl::StrCat("holds: all ", above.ensembles, " ensembles with E >= ", t,
                                        " kept every expert alive"))
        << "\n";
  } else {
    std::vector<std::string> ids;
    for (size_t i = 0; i < counterexamples.size() && i < 10; ++i) ids.push_back(std::to_string(counterexamples[i]));
    out << env.style.Red(absl::StrCat("does not hold: ", counterexamples.size(), " of ", above.ensembles,
                                      " ensembles with E >= ", t, " lost an expert (jobs ", absl::StrJoin(ids, ", "),
                                      counterexamples.size() > ids.size() ? ", ..." : "", ")"))
        << "\n";
  }
  return kExitOk;
}

}  // namespace moe4::ctl
