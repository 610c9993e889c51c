#include "common/schedule.h"

#include <algorithm>
#include <cstdint>

namespace moe4 {

std::string_view ScheduleKindName(ScheduleKind kind) { return kind == ScheduleKind::kAsha ? "asha" : "full"; }

std::optional<ScheduleKind> ParseScheduleKind(std::string_view name) {
  if (name == "full") return ScheduleKind::kFull;
  if (name == "asha") return ScheduleKind::kAsha;
  return std::nullopt;
}

std::vector<int> RungEpochs(const ScheduleSpec& schedule) {
  std::vector<int> rungs;
  if (schedule.kind == ScheduleKind::kAsha && schedule.min_epochs >= 1 && schedule.reduction_factor >= 2) {
    // int64 so that min * eta^i cannot overflow before it passes max.
    for (int64_t e = schedule.min_epochs; e < schedule.max_epochs; e *= schedule.reduction_factor) {
      rungs.push_back(static_cast<int>(e));
    }
  }
  rungs.push_back(std::max(1, schedule.max_epochs));
  return rungs;
}

int PromotionSlots(int finished, int eta, bool closed) {
  if (finished <= 0 || eta < 1) return 0;
  const int slots = finished / eta;
  return closed ? std::max(1, slots) : slots;
}

}  // namespace moe4
