// moe4ctl jobs ID [--state S] and job JOB_ID: the jobs of a campaign, and one
// job's per-epoch curve.
#include <algorithm>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"

namespace moe4::ctl {
namespace {

// Pages through ListJobs (ids ascending) until `limit` jobs (0 = all).
int FetchJobs(CampaignClient& client, const JobsOptions& options, moe4::v1::ListJobsResponse* all) {
  constexpr int kPage = 1000;
  moe4::v1::ListJobsRequest request;
  request.set_campaign_id(options.campaign_id);
  request.set_state(JobStateFromName(options.state));
  for (;;) {
    const int want = options.limit > 0 ? options.limit - all->jobs_size() : kPage;
    if (want <= 0) return kExitOk;
    request.set_limit(std::min(want, kPage));
    moe4::v1::ListJobsResponse page;
    if (int code = client.Call(&moe4::v1::CampaignService::Stub::ListJobs, request, &page,
                               absl::StrCat("jobs ", options.campaign_id))) {
      return code;
    }
    for (auto& job : *page.mutable_jobs()) *all->add_jobs() = std::move(job);
    if (page.jobs_size() < request.limit()) return kExitOk;
    request.set_after_job_id(all->jobs(all->jobs_size() - 1).job_id());
  }
}

// "3 bad image files": those a job's dataset load skipped
// (dataset.skip_bad_images), summed over the splits and classes.
std::string SkippedTotal(const moe4::v1::JobInfo& job) {
  int64_t total = 0;
  for (const auto& [key, n] : job.skipped_images()) total += n;
  return absl::StrCat(total, " bad image file", total == 1 ? "" : "s");
}

// "train/cat 2, test/dog 1": the most skipped first (then by key), at most
// `max_keys` of them and how many more there are.
std::string SkippedByClass(const moe4::v1::JobInfo& job, size_t max_keys) {
  std::vector<std::pair<std::string, int32_t>> sorted(job.skipped_images().begin(), job.skipped_images().end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  std::vector<std::string> parts;
  for (size_t i = 0; i < sorted.size() && i < max_keys; ++i) {
    parts.push_back(absl::StrCat(sorted[i].first, " ", sorted[i].second));
  }
  if (sorted.size() > max_keys) parts.push_back(absl::StrCat("and ", sorted.size() - max_keys, " more"));
  return absl::StrJoin(parts, ", ");
}

}  // namespace

int Jobs(const JobsOptions& options, const CommandEnv& env) {
  if (!options.state.empty() && JobStateFromName(options.state) == moe4::v1::JOB_STATE_UNSPECIFIED) {
    std::cerr << "moe4ctl: --state: unknown state \"" << options.state
              << "\" (expected pending, leased, running, succeeded, failed, cancelled, waiting or stopped)\n";
    return kExitUsage;
  }
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::ListJobsResponse response;
  if ((code = FetchJobs(*client, options, &response))) return code;
  if (env.format == OutputFormat::kJson) {
    *env.out << ToJson(response);
    return kExitOk;
  }
  // VALID and TEST at the selected epoch (SEL), FINAL at the last one.
  Table table({"JOB", "FAMILIES", "STATE", "ATTEMPT", "EPOCHS", "SEL", "VALID", "TEST", "FINAL", "WORKER", "NOTE"});
  for (const auto& j : response.jobs()) {
    // Stopped and waiting (asha) jobs have their rung's selected epoch.
    const bool done = j.state() == moe4::v1::JOB_STATE_SUCCEEDED || j.state() == moe4::v1::JOB_STATE_STOPPED ||
                      j.state() == moe4::v1::JOB_STATE_WAITING;
    std::string note = j.error();
    if (j.state() == moe4::v1::JOB_STATE_STOPPED) note = absl::StrCat("stopped at rung ", j.rung());
    if (j.state() == moe4::v1::JOB_STATE_WAITING) note = absl::StrCat("rung ", j.rung(), " done; awaiting promotion");
    if (j.rung() > 0 && note.empty()) note = absl::StrCat("rung ", j.rung());
    if (note.empty() && !j.skipped_images().empty()) note = SkippedTotal(j) + " skipped";
    if (j.state() == moe4::v1::JOB_STATE_RUNNING && j.progress_epoch() > 0) {
      note = absl::StrCat("training epoch ", j.progress_epoch(), j.progress_step() > 0 ? absl::StrCat(", step ", j.progress_step()) : "");
    }
    table.AddRow({std::to_string(j.job_id()), absl::StrJoin(j.families(), " + "),
                  env.style.State(JobStateName(j.state())), absl::StrCat(j.attempt(), "/", j.max_attempts()),
                  absl::StrCat(j.epochs_done(), "/", j.epochs_total()),
                  done && j.selected_epoch() > 0 ? std::to_string(j.selected_epoch()) : "-",
                  done ? env.Pct(j.validation_accuracy()) : "-", done ? env.Pct(j.selected_test_accuracy()) : "-",
                  done ? env.Pct(j.final_test_accuracy()) : "-", j.worker_name().empty() ? "-" : j.worker_name(),
                  note});
  }
  table.Print(env.format, *env.out);
  return kExitOk;
}

int Job(int64_t job_id, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::GetJobRequest request;
  request.set_job_id(job_id);
  moe4::v1::GetJobResponse response;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::GetJob, request, &response,
                           absl::StrCat("job ", job_id)))) {
    return code;
  }
  if (env.format == OutputFormat::kJson) {
    *env.out << ToJson(response);
    return kExitOk;
  }
  Table table({"EPOCH", "TRAIN LOSS", "TRAIN ACC", "VAL LOSS", "VAL ACC", "TEST LOSS", "TEST ACC", "LR", "ENTROPY",
               "DEAD", "E", "TEMP", "TIME", "IMG/S"});
  std::vector<double> accuracy;
  const bool csv = env.format == OutputFormat::kCsv;
  // Human rounding in the table, every digit in CSV.
  auto num = [&](double v, int digits) { return csv ? ExactNumber(v) : Fixed(v, digits); };
  for (const auto& e : response.epochs()) {
    accuracy.push_back(e.test_accuracy());
    const bool selected = response.job().selected_epoch() == e.epoch();
    table.AddRow({selected && !csv ? absl::StrCat(e.epoch(), " *") : std::to_string(e.epoch()),
                  num(e.train_loss(), 4), env.Pct(e.train_accuracy()),
                  e.has_validation_loss() ? num(e.validation_loss(), 4) : "",
                  e.has_validation_accuracy() ? env.Pct(e.validation_accuracy()) : "", num(e.test_loss(), 4),
                  env.Pct(e.test_accuracy()),
                  csv ? ExactNumber(e.lr()) : absl::StrFormat("%.2e", e.lr()), num(e.routing_entropy(), 3),
                  std::to_string(e.dead_experts()), num(e.ecology(), 3), num(e.temperature(), 2),
                  env.Secs(e.epoch_seconds()), num(e.images_per_second(), 0)});
  }
  if (env.format == OutputFormat::kCsv) {
    table.PrintCsv(*env.out);
    return kExitOk;
  }
  std::ostream& out = *env.out;
  const auto& j = response.job();
  out << "job " << j.job_id() << " of campaign " << j.campaign_id() << ": " << absl::StrJoin(j.families(), " + ")
      << "\n";
  out << "state " << env.style.State(JobStateName(j.state())) << ", attempt " << j.attempt() << "/" << j.max_attempts()
      << ", epochs " << j.epochs_done() << "/" << j.epochs_total();
  if (!j.worker_name().empty()) out << ", worker " << j.worker_name();
  if (j.rung() > 0 || j.state() == moe4::v1::JOB_STATE_STOPPED || j.state() == moe4::v1::JOB_STATE_WAITING) {
    out << ", rung " << j.rung();
    if (j.state() == moe4::v1::JOB_STATE_STOPPED) out << " (stopped at it: not promoted)";
  }
  out << "\n";
  if (j.state() == moe4::v1::JOB_STATE_SUCCEEDED) {
    out << "selected epoch " << j.selected_epoch() << " (*): validation accuracy "
        << Percent(j.validation_accuracy()) << ", test accuracy " << env.style.Bold(Percent(j.selected_test_accuracy()))
        << "; final test accuracy " << Percent(j.final_test_accuracy()) << "\n"
        << j.parameter_count() << " parameters, trained in " << Duration(j.train_seconds()) << "\n";
  }
  if (!j.error().empty()) out << "error: " << env.style.Red(j.error()) << "\n";
  if (!j.skipped_images().empty()) {
    // The dataset trained on lacked these (dataset.skip_bad_images): worth
    // knowing before trusting the figures. -o json lists every class.
    out << "skipped " << SkippedTotal(j) << " (dataset.skip_bad_images): " << SkippedByClass(j, 10) << "\n";
  }
  if (response.epochs_size() == 0) {
    out << "\nno epochs reported yet\n";
    return kExitOk;
  }
  out << "\n";
  table.PrintAligned(out);
  out << "\ntest accuracy  " << Sparkline(accuracy) << "  " << Percent(accuracy.front()) << " → "
      << Percent(accuracy.back()) << "\n";
  // What each expert did in the last epoch: a dead one shows a tiny routing share.
  const auto& last = response.epochs(response.epochs_size() - 1);
  if (last.routing_share_size() == j.families_size()) {
    Table experts({"EXPERT", "GATE MEAN", "ROUTING", "ALONE"});
    for (int i = 0; i < j.families_size(); ++i) {
      const double share = last.routing_share(i);
      const bool dead = share < 1.0 / (10.0 * j.families_size());
      experts.AddRow({j.families(i), i < last.gate_mean_size() ? Fixed(last.gate_mean(i), 3) : "-",
                      dead ? env.style.Red(Percent(share) + " dead") : Percent(share),
                      i < last.expert_accuracy_size() ? Percent(last.expert_accuracy(i)) : "-"});
    }
    out << "\nexperts at epoch " << last.epoch() << "\n";
    experts.PrintAligned(out);
  }
  return kExitOk;
}

}  // namespace moe4::ctl
