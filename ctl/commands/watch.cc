// moe4ctl watch ID: follows the coordinator's Watch stream (a fresh snapshot
// whenever something changes) until the campaign is done or cancelled, or the
// user presses Ctrl-C.
//
// On a terminal the status view is redrawn in place; otherwise each snapshot
// is appended as one line (table), one JSON object per line (json) or one CSV
// row, so that the output is a readable log when piped to a file.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"
#include "ctl/commands/status_view.h"

namespace moe4::ctl {
namespace {

std::string ClockTime() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%H:%M:%S", &tm);
  return buffer;
}

// Draws successive snapshots in the chosen form. Not thread-safe; owned by
// the watching thread.
class WatchPrinter {
 public:
  explicit WatchPrinter(const CommandEnv& env) : env_(env) {}

  void Draw(const moe4::v1::GetResponse& s) {
    std::ostream& out = *env_.out;
    switch (env_.format) {
      case OutputFormat::kJson:
        out << ToJsonLine(s);
        break;
      case OutputFormat::kCsv: {
        Table table({"time", "campaign_id", "state", "epochs_done", "epochs_total", "pending", "running", "succeeded",
                     "failed", "cancelled", "best_test_accuracy"});
        const auto& c = s.campaign();
        table.AddRow({ClockTime(), std::to_string(c.campaign_id()), std::string(CampaignStateName(c.state())),
                      std::to_string(s.epochs_done()), std::to_string(s.epochs_total()), std::to_string(c.pending()),
                      std::to_string(c.leased() + c.running()), std::to_string(c.succeeded()),
                      std::to_string(c.failed()), std::to_string(c.cancelled()),
                      std::to_string(c.best_test_accuracy())});
        std::ostringstream csv;
        table.PrintCsv(csv);
        std::string text = csv.str();
        if (!header_done_) {
          header_done_ = true;
        } else {
          text = text.substr(text.find('\n') + 1);  // the header once
        }
        out << text;
        break;
      }
      case OutputFormat::kTable:
        if (!env_.terminal) {
          out << ClockTime() << " " << StatusLine(s) << "\n";
          break;
        }
        std::ostringstream frame;
        PrintStatusView(s, env_.style, frame);
        frame << "\n" << env_.style.Dim(absl::StrCat("updated ", ClockTime(), "; Ctrl-C stops watching")) << "\n";
        const std::string text = frame.str();
        // Back to the top of the previous frame, clear to the end, redraw.
        if (lines_ > 0) out << "\x1b[" << lines_ << "A\x1b[J";
        out << text;
        lines_ = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
        break;
    }
    out.flush();
  }

 private:
  const CommandEnv& env_;
  int lines_ = 0;          // lines of the frame on screen
  bool header_done_ = false;
};

}  // namespace

int Watch(int64_t campaign_id, const CommandEnv& env) {
  // SIGINT/SIGTERM are blocked before the connection starts gRPC's threads
  // (they inherit the mask), so only the waiter below receives them and can
  // cancel the call cleanly: a handler may not call into gRPC.
  sigset_t signals, old_mask;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, &old_mask);
  struct RestoreMask {
    sigset_t mask;
    ~RestoreMask() { pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } restore{old_mask};

  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  auto context = client->connection().NewContext(/*timeout_seconds=*/0);  // as long as it takes
  std::atomic<bool> finished{false}, interrupted{false};
  std::thread waiter([&] {
    const timespec poll{0, 100 * 1000 * 1000};
    while (!finished.load()) {
      if (sigtimedwait(&signals, nullptr, &poll) > 0) {
        interrupted = true;
        context->TryCancel();
        return;
      }
    }
  });

  moe4::v1::WatchRequest request;
  request.set_campaign_id(campaign_id);
  auto reader = client->stub().Watch(context.get(), request);
  WatchPrinter printer(env);
  moe4::v1::WatchResponse update;
  moe4::v1::CampaignState state = moe4::v1::CAMPAIGN_STATE_UNSPECIFIED;
  while (reader->Read(&update)) {
    state = update.status().campaign().state();
    printer.Draw(update.status());
  }
  const grpc::Status status = reader->Finish();
  finished = true;
  waiter.join();

  if (interrupted) return kExitInterrupted;
  if (!status.ok()) return ReportRpcError(status, absl::StrCat("watch ", campaign_id));
  if (state == moe4::v1::CAMPAIGN_STATE_DONE) return kExitOk;
  if (state == moe4::v1::CAMPAIGN_STATE_CANCELLED) {
    std::cerr << "moe4ctl: campaign " << campaign_id << " was cancelled\n";
    return kExitFailed;
  }
  std::cerr << "moe4ctl: watch " << campaign_id
            << ": the coordinator ended the stream before the campaign finished (shutting down?)\n";
  return kExitUnavailable;
}

}  // namespace moe4::ctl
