#include "worker/agent/stop_reason.h"

#include <array>
#include <cstddef>

namespace moe4::worker {
namespace {

struct Row {
  StopReason reason;
  std::string_view name;
  StopAction action;
};

// Indexed by the enum; the header's table explains each row.
constexpr std::array<Row, 6> kRows = {{
    {StopReason::kPaused, "paused", {true, false, true, "paused by the coordinator"}},
    {StopReason::kCancelled, "cancelled", {false, false, false, "cancelled by the coordinator"}},
    {StopReason::kTimedOut, "timed out", {false, true, false, "exceeded max_job_seconds"}},
    {StopReason::kFenced, "fenced", {false, false, true, "fenced: another attempt owns the job"}},
    {StopReason::kShutdown, "shutdown", {true, true, true, "worker shutting down"}},
    {StopReason::kReportRejected, "report rejected", {false, false, false, "epoch report rejected by the coordinator"}},
}};

constexpr bool RowsInEnumOrder() {
  for (size_t i = 0; i < kRows.size(); ++i) {
    if (static_cast<size_t>(kRows[i].reason) != i) return false;
  }
  return true;
}
static_assert(RowsInEnumOrder(), "kRows must list every StopReason in declaration order");

}  // namespace

std::string_view StopReasonName(StopReason reason) { return kRows[static_cast<size_t>(reason)].name; }

const StopAction& StopActionFor(StopReason reason) { return kRows[static_cast<size_t>(reason)].action; }

StopReason StopReasonFromProto(moe4::v1::StopReason reason) {
  switch (reason) {
    case moe4::v1::STOP_REASON_CANCELLED: return StopReason::kCancelled;
    case moe4::v1::STOP_REASON_TIMED_OUT: return StopReason::kTimedOut;
    case moe4::v1::STOP_REASON_PAUSED:
    default: return StopReason::kPaused;
  }
}

}  // namespace moe4::worker
