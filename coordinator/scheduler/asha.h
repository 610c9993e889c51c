// The promotion decisions of an asha campaign (common/schedule.h), as pure
// logic over a snapshot of its rungs; the store reads the snapshot and
// applies the decisions in the transaction that holds the campaign's row
// lock, so two coordinators never decide for one campaign at once. No I/O;
// safe for concurrent use.
//
// The rule (asynchronous successive halving): a finished member of rung i is
// promoted to rung i + 1 as soon as it is among the PromotionSlots(n_i, eta,
// closed_i) best of the n_i finished members of rung i (by the metric,
// higher first, a missing metric last, ties to the lower job id). Rung i is
// closed when no further result can arrive there: nothing trains towards a
// rung <= i and nothing waits at a rung < i. Then its waiting members that
// were not promoted stop. Promotions are never taken back: a candidate
// promoted early stays promoted when later results outrank it (as in ASHA).
#pragma once

#include <cstdint>
#include <vector>

namespace moe4::coordinator {

// A finished member of a rung.
struct RungMember {
  int64_t job_id = 0;
  double metric = 0;     // NaN when the rung has no metric for it (ranks last)
  bool promoted = false; // already promoted from this rung
  bool waiting = false;  // its job waits at this rung (not promoted, stopped, failed or cancelled)
};

// One rung as it stands.
struct RungSnapshot {
  std::vector<RungMember> finished;  // any order
  int training = 0;  // jobs pending, leased or running towards this rung
  int waiting = 0;   // jobs waiting at this rung (finished members with waiting set)
};

struct Promotion {
  int64_t job_id = 0;
  int from_rung = 0;  // promoted to from_rung + 1
};

struct Stop {
  int64_t job_id = 0;
  int rung = 0;
};

struct AshaDecisions {
  std::vector<Promotion> promotions;
  std::vector<Stop> stops;
  std::vector<bool> closed;  // per rung, after the decisions
};

// rungs[i] for every rung of the campaign (the top one included: nothing is
// promoted from it). eta >= 2.
AshaDecisions DecideAsha(std::vector<RungSnapshot> rungs, int eta);

// The metric a finished member of the rung needs to be promoted now: the
// PromotionSlots-th best metric; NaN when no slot is open.
double PromotionThreshold(const RungSnapshot& rung, int eta, bool closed);

}  // namespace moe4::coordinator
