#include "coordinator/scheduler/asha.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/schedule.h"

namespace moe4::coordinator {
namespace {

// Best first: higher metric, a missing (NaN) metric last, ties to the lower
// job id (the earlier sampled), so every coordinator ranks alike.
void SortBestFirst(std::vector<RungMember>& members) {
  std::sort(members.begin(), members.end(), [](const RungMember& a, const RungMember& b) {
    const bool a_nan = std::isnan(a.metric), b_nan = std::isnan(b.metric);
    if (a_nan != b_nan) return b_nan;
    if (!a_nan && a.metric != b.metric) return a.metric > b.metric;
    return a.job_id < b.job_id;
  });
}

}  // namespace

AshaDecisions DecideAsha(std::vector<RungSnapshot> rungs, int eta) {
  AshaDecisions out;
  out.closed.assign(rungs.size(), false);
  // Jobs still able to bring a result to a higher rung: training towards, or
  // waiting at, a lower one.
  int open_below = 0;
  for (size_t i = 0; i < rungs.size(); ++i) {
    RungSnapshot& rung = rungs[i];
    const bool top = i + 1 == rungs.size();
    const bool closed = open_below == 0 && rung.training == 0;
    if (!top) {
      SortBestFirst(rung.finished);
      const int slots = PromotionSlots(static_cast<int>(rung.finished.size()), eta, closed);
      for (int k = 0; k < slots; ++k) {
        RungMember& m = rung.finished[static_cast<size_t>(k)];
        if (m.promoted || !m.waiting) continue;
        m.promoted = true;
        m.waiting = false;
        --rung.waiting;
        out.promotions.push_back({m.job_id, static_cast<int>(i)});
        ++rungs[i + 1].training;  // the next rung sees it training
      }
      if (closed) {
        for (RungMember& m : rung.finished) {
          if (!m.waiting) continue;
          m.waiting = false;
          --rung.waiting;
          out.stops.push_back({m.job_id, static_cast<int>(i)});
        }
      }
    }
    out.closed[i] = closed;
    open_below += rung.training + std::max(0, rung.waiting);
  }
  return out;
}

double PromotionThreshold(const RungSnapshot& rung, int eta, bool closed) {
  std::vector<RungMember> members = rung.finished;
  SortBestFirst(members);
  const int slots = PromotionSlots(static_cast<int>(members.size()), eta, closed);
  if (slots <= 0) return std::numeric_limits<double>::quiet_NaN();
  return members[static_cast<size_t>(slots - 1)].metric;
}

}  // namespace moe4::coordinator
