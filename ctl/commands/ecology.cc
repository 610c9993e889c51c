// moe4ctl ecology ID: dead experts against the ecology parameter
// E = T*H/(O+B) at each finished ensemble's last epoch, bucketed at a
// threshold (0.5), to test the claim that E >= 0.5 keeps every expert alive.
// E is the recipe's (T as configured): +inf when O+B = 0 < T*H, which counts
// as above any threshold; undefined (NaN, O+B = T*H = 0) in a bucket of its
// own, with the reason. --points also shows E with the learned T.
//
// Beside E, the specialisation: I(class; top-1 routed expert) / H(class), 0
// when the gate ignores the class, 1 when the expert determines it
// (worker/train/metrics.h); --per-class JOB shows one job's experts' accuracy
// on each class, the table behind that figure.
#include <cmath>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
  int specialisation_n = 0;  // ensembles whose worker measured it
  double specialisation_sum = 0;

  void Add(const moe4::v1::EcologyPoint& p) {
    ++ensembles;
    all_alive += p.dead_experts() == 0;
    dead_sum += p.dead_experts();
    accuracy_sum += p.final_test_accuracy();
    if (!std::isnan(p.specialisation_normalised())) {
      ++specialisation_n;
      specialisation_sum += p.specialisation_normalised();
    }
  }
  double share_alive() const { return ensembles ? double(all_alive) / ensembles : NAN; }
  double mean_dead() const { return ensembles ? dead_sum / ensembles : NAN; }
  double mean_accuracy() const { return ensembles ? accuracy_sum / ensembles : NAN; }
  double mean_specialisation() const { return specialisation_n ? specialisation_sum / specialisation_n : NAN; }
};

nlohmann::json NumberOrNull(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

// --per-class: rows are experts, columns classes, cells the expert's own
// top-1 accuracy on that class's test images.
int PerClass(CampaignClient& client, const EcologyOptions& options, const CommandEnv& env) {
  moe4::v1::GetJobRequest request;
  request.set_job_id(options.per_class_job);
  moe4::v1::GetJobResponse response;
  if (int code = client.Call(&moe4::v1::CampaignService::Stub::GetJob, request, &response,
                             absl::StrCat("job ", options.per_class_job))) {
    return code;
  }
  const moe4::v1::JobInfo& job = response.job();
  if (job.campaign_id() != options.campaign_id) {
    std::cerr << "moe4ctl: ecology: job " << job.job_id() << " belongs to campaign " << job.campaign_id()
              << ", not " << options.campaign_id << "\n";
    return kExitUsage;
  }
  // The selected epoch once the job has succeeded, else the latest.
  const moe4::v1::EpochMetrics* epoch = nullptr;
  for (const auto& e : response.epochs()) {
    if (job.selected_epoch() > 0 ? e.epoch() == job.selected_epoch() : (!epoch || e.epoch() > epoch->epoch())) {
      epoch = &e;
    }
  }
  if (!epoch) {
    std::cerr << "moe4ctl: ecology: job " << job.job_id() << " has no epochs yet\n";
    return kExitFailed;
  }
  const int k = job.families_size(), c = epoch->num_classes();
  if (c <= 0 || epoch->expert_class_accuracy_size() != k * c) {
    std::cerr << "moe4ctl: ecology: job " << job.job_id() << " epoch " << epoch->epoch()
              << " has no per-class accuracies (its worker predates them)\n";
    return kExitFailed;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double bits = epoch->has_specialisation_bits() ? epoch->specialisation_bits() : nan;
  const double normalised = epoch->has_specialisation_normalised() ? epoch->specialisation_normalised() : nan;
  if (env.format == OutputFormat::kJson) {
    nlohmann::json json{{"job_id", job.job_id()},
                        {"epoch", epoch->epoch()},
                        {"selected", epoch->epoch() == job.selected_epoch()},
                        {"num_classes", c},
                        {"specialisation_bits", NumberOrNull(bits)},
                        {"specialisation_normalised", NumberOrNull(normalised)}};
    for (int i = 0; i < k; ++i) {
      nlohmann::json row = nlohmann::json::array();
      for (int j = 0; j < c; ++j) row.push_back(NumberOrNull(epoch->expert_class_accuracy(i * c + j)));
      json["experts"].push_back({{"family", job.families(i)},
                                 {"routing_share", i < epoch->routing_share_size() ? NumberOrNull(epoch->routing_share(i))
                                                                                   : nlohmann::json()},
                                 {"accuracy", i < epoch->expert_accuracy_size() ? NumberOrNull(epoch->expert_accuracy(i))
                                                                                : nlohmann::json()},
                                 {"class_accuracy", row}});
    }
    *env.out << json.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::string> header = {"EXPERT", "ROUTED", "ALL"};
  for (int j = 0; j < c; ++j) header.push_back(absl::StrCat("C", j));
  Table table(std::move(header));
  for (int i = 0; i < k; ++i) {
    std::vector<std::string> row = {
        job.families(i), i < epoch->routing_share_size() ? env.Pct(epoch->routing_share(i)) : "",
        i < epoch->expert_accuracy_size() ? env.Pct(epoch->expert_accuracy(i)) : ""};
    // The best expert on each class in bold: a specialised mixture has a
    // different one per class.
    for (int j = 0; j < c; ++j) {
      const double v = epoch->expert_class_accuracy(i * c + j);
      bool best = !std::isnan(v);
      for (int other = 0; other < k && best; ++other) best = !(epoch->expert_class_accuracy(other * c + j) > v);
      row.push_back(best && env.format != OutputFormat::kCsv ? env.style.Bold(env.Pct(v)) : env.Pct(v));
    }
    table.AddRow(std::move(row));
  }
  if (env.format == OutputFormat::kCsv) {
    table.PrintCsv(*env.out);
    return kExitOk;
  }
  std::ostream& out = *env.out;
  out << "job " << job.job_id() << " (" << absl::StrJoin(job.families(), " + ") << "), "
      << (epoch->epoch() == job.selected_epoch() ? "selected " : "") << "epoch " << epoch->epoch()
      << ": test accuracy of each expert alone, per class\n\n";
  table.PrintAligned(out);
  out << "\nspecialisation: I(class; routed expert) = " << Fixed(bits, 3) << " bits";
  if (!std::isnan(normalised)) {
    out << " = " << Fixed(normalised, 3) << " of H(class) (0: routing ignores the class, 1: the expert determines it)";
  }
  out << "\n";
  return kExitOk;
}

}  // namespace

int Ecology(const EcologyOptions& options, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  if (options.per_class_job > 0) return PerClass(*client, options, env);
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
                                 {"mean_final_test_accuracy", NumberOrNull(b->mean_accuracy())},
                                 {"mean_specialisation", NumberOrNull(b->mean_specialisation())}});
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
    Table table({"JOB", "FAMILIES", "E", "E LEARNED T", "DEAD", "FINAL", "SPEC BITS", "SPEC", "NOTE"});
    for (const auto& p : response.points()) {
      table.AddRow({std::to_string(p.job_id()), absl::StrJoin(p.families(), " + "),
                    csv ? ExactNumber(p.ecology()) : Fixed(p.ecology(), 3),
                    csv ? ExactNumber(p.ecology_learned()) : Fixed(p.ecology_learned(), 3),
                    p.dead_experts() > 0 ? env.style.Red(std::to_string(p.dead_experts())) : "0",
                    env.Pct(p.final_test_accuracy()),
                    csv ? ExactNumber(p.specialisation_bits()) : Fixed(p.specialisation_bits(), 3),
                    csv ? ExactNumber(p.specialisation_normalised()) : Fixed(p.specialisation_normalised(), 3),
                    p.ecology_undefined()});
    }
    table.Print(env.format, *env.out);
    return kExitOk;
  }
  Table table({"E", "ENSEMBLES", "ALL ALIVE", "SHARE ALL ALIVE", "MEAN DEAD", "MEAN FINAL", "MEAN SPEC"});
  for (const Bucket* b : buckets) {
    table.AddRow({b->label, std::to_string(b->ensembles), std::to_string(b->all_alive), env.Pct(b->share_alive()),
                  env.format == OutputFormat::kCsv ? ExactNumber(b->mean_dead()) : Fixed(b->mean_dead(), 2),
                  env.Pct(b->mean_accuracy()),
                  env.format == OutputFormat::kCsv ? ExactNumber(b->mean_specialisation())
                                                   : Fixed(b->mean_specialisation(), 3)});
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
  if (below.specialisation_n + above.specialisation_n + undefined.specialisation_n > 0) {
    out << "\nMEAN SPEC: I(class; routed expert) / H(class) at the last epoch, 0 = routing ignores the class, "
           "1 = the expert determines it (--per-class JOB shows one job's table)\n";
  }
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
