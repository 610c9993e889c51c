#include "ctl/commands/status_view.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace moe4::ctl {
namespace {

// Epochs stored over epochs planned, and 1 once the campaign is done: its
// failed jobs never report their remaining epochs, which are not missing work.
double Progress(const moe4::v1::GetResponse& r) {
  if (r.campaign().state() == moe4::v1::CAMPAIGN_STATE_DONE) return 1;
  return r.epochs_total() > 0 ? double(r.epochs_done()) / r.epochs_total() : 0;
}

}  // namespace

void PrintStatusCounts(const moe4::v1::GetResponse& response, OutputFormat format, const Style& style,
                       std::ostream& out) {
  const auto& c = response.campaign();
  Table table({"STATE", "JOBS"});
  auto row = [&](const char* state, int n) {
    table.AddRow({n > 0 ? style.State(state) : std::string(state), std::to_string(n)});
  };
  row("pending", c.pending());
  row("leased", c.leased());
  row("running", c.running());
  row("succeeded", c.succeeded());
  row("failed", c.failed());
  row("cancelled", c.cancelled());
  if (c.schedule().kind() == moe4::v1::SCHEDULE_KIND_ASHA) {
    row("waiting", c.waiting());
    row("stopped", c.stopped());
  }
  table.Print(format, out);
}

std::string ScheduleLine(const moe4::v1::CampaignSummary& c) {
  const moe4::v1::Schedule& s = c.schedule();
  if (s.kind() != moe4::v1::SCHEDULE_KIND_ASHA) return absl::StrCat("schedule full: every job trains ", c.epochs(), " epochs");
  std::string rungs;
  for (int e : s.rung_epochs()) absl::StrAppend(&rungs, rungs.empty() ? "" : ", ", e);
  return absl::StrCat("schedule asha: rungs at ", rungs, " epochs (min ", s.min_epochs(), ", max ", s.max_epochs(),
                      "), reduction factor ", s.reduction_factor(), ", promoted by ", s.metric());
}

void PrintRungs(const moe4::v1::GetResponse& response, OutputFormat format, const Style& style, std::ostream& out) {
  // ENTERED: sent to the rung (rung 0: every sampled combination);
  // THRESHOLD: the validation accuracy a finished member needs to be
  // promoted now ("-": no slot open yet, or the top rung).
  Table table({"RUNG", "EPOCHS", "ENTERED", "FINISHED", "TRAINING", "WAITING", "PROMOTED", "STOPPED", "FAILED",
               "THRESHOLD", "BEST", "CLOSED"});
  const bool csv = format != OutputFormat::kTable;
  auto pct = [&](double v) { return csv ? ExactNumber(v) : (std::isfinite(v) ? Percent(v) : std::string("-")); };
  for (const auto& r : response.rungs()) {
    table.AddRow({std::to_string(r.rung()), std::to_string(r.epochs()), std::to_string(r.entered()),
                  std::to_string(r.finished()), std::to_string(r.training()), std::to_string(r.waiting()),
                  std::to_string(r.promoted()), std::to_string(r.stopped()), std::to_string(r.failed()),
                  pct(r.threshold()), pct(r.best()), r.closed() ? (csv ? "yes" : style.Green("yes")) : "no"});
  }
  table.Print(format, out);
}

void PrintStatusView(const moe4::v1::GetResponse& response, const Style& style, std::ostream& out) {
  const auto& c = response.campaign();
  const int remaining_epochs = response.epochs_total() - response.epochs_done();
  const int workers = std::max(1, response.busy_workers());
  out << "campaign " << c.campaign_id() << " \"" << c.name() << "\": " << style.State(CampaignStateName(c.state()))
      << ", K=" << c.k() << ", " << c.sampler() << " sampler, " << c.catalogue() << " catalogue, " << c.budget()
      << " jobs, dataset " << c.dataset() << "\n";
  out << "progress " << ProgressBar(Progress(response), 30) << "  " << response.epochs_done() << "/"
      << response.epochs_total() << " epochs";
  // Measured epoch times spread over the workers busy now.
  if (response.mean_epoch_seconds() > 0 && remaining_epochs > 0 && c.state() == moe4::v1::CAMPAIGN_STATE_ACTIVE) {
    out << ", ETA " << Duration(remaining_epochs * response.mean_epoch_seconds() / workers);
  }
  out << "\nworkers " << response.busy_workers() << " busy of " << response.live_workers() << " live\n";
  out << ScheduleLine(c) << "\n";
  if (c.succeeded() > 0) {
    out << "top combination: test accuracy " << Percent(c.best_test_accuracy())
        << (c.selection() == "final" ? " (ranked by final test accuracy: no validation split)\n"
                                     : " at its selected epoch (ranked by validation accuracy)\n");
  }
  if (!response.pending_reason().empty()) out << "waiting: " << style.Yellow(response.pending_reason()) << "\n";
  out << "\n";
  PrintStatusCounts(response, OutputFormat::kTable, style, out);
  if (response.rungs_size() > 0) {
    out << "\nrungs (promotion: the top 1/" << c.schedule().reduction_factor()
        << " of a rung's finished members by validation accuracy)\n";
    PrintRungs(response, OutputFormat::kTable, style, out);
  }
}

std::string StatusLine(const moe4::v1::GetResponse& response) {
  const auto& c = response.campaign();
  std::string line = absl::StrCat("campaign ", c.campaign_id(), ": ", std::string(CampaignStateName(c.state())), ", ",
                                  response.epochs_done(), "/", response.epochs_total(), " epochs (",
                                  static_cast<int>(100 * Progress(response)), "%), ", c.pending(), " pending, ",
                                  c.leased() + c.running(), " running, ", c.succeeded(), " succeeded, ", c.failed(),
                                  " failed, ", c.cancelled(), " cancelled");
  if (c.schedule().kind() == moe4::v1::SCHEDULE_KIND_ASHA) {
    absl::StrAppend(&line, ", ", c.waiting(), " waiting, ", c.stopped(), " stopped at their rung");
  }
  if (c.succeeded() > 0) absl::StrAppend(&line, ", best ", Percent(c.best_test_accuracy()));
  if (!response.pending_reason().empty()) absl::StrAppend(&line, "; waiting: ", response.pending_reason());
  return line;
}

}  // namespace moe4::ctl
