// A campaign's `schedule`: how it spends epochs on the sampled combinations.
//
// `full` (the default) trains every job recipe.epochs. `asha` is
// asynchronous successive halving (Li et al., "A System for Massively
// Parallel Hyperparameter Tuning", 2020): every combination first trains
// min_epochs (rung 0); a candidate is promoted to the next rung (epochs x
// eta, the top rung at max_epochs) as soon as it is in the top 1/eta of the
// finished members of its rung, and the rest stop at their rung. The
// learning-rate schedule of every job spans max_epochs (= recipe.epochs), so
// a rung is a prefix of one full run and a promotion continues it.
//
// Shared by the spec validator, the coordinator and moe4ctl, without
// LibTorch. Pure functions; safe for concurrent use.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace moe4 {

enum class ScheduleKind {
  kFull,  // every job trains recipe.epochs (default)
  kAsha,  // successive halving over rungs
};

inline constexpr int kDefaultReductionFactor = 3;
inline constexpr int kMaxReductionFactor = 100;
// The one metric promotions use: never test accuracy.
inline constexpr std::string_view kScheduleMetric = "validation_accuracy";

struct ScheduleSpec {
  ScheduleKind kind = ScheduleKind::kFull;
  int min_epochs = 0;        // asha: epochs of rung 0 (default 1); full: 0
  int max_epochs = 0;        // asha: epochs of the top rung, = recipe.epochs; full: 0
  int reduction_factor = kDefaultReductionFactor;  // asha: eta >= 2 (default 3)
};

// "full" / "asha": the spelling of the spec, the proto and the database.
std::string_view ScheduleKindName(ScheduleKind kind);
std::optional<ScheduleKind> ParseScheduleKind(std::string_view name);

// The epochs at the end of each rung, ascending: min_epochs * eta^i while
// below max_epochs, then max_epochs (min 1, max 9, eta 3: 1, 3, 9; max 10:
// 1, 3, 9, 10). One rung {max_epochs} when min_epochs >= max_epochs, and
// for `full` schedules (where max_epochs is the recipe's epochs).
std::vector<int> RungEpochs(const ScheduleSpec& schedule);

// How many of a rung's `finished` members may be promoted: floor(finished /
// eta), and at least one (when any finished) once the rung is closed (no
// further result can arrive), so a small campaign still trains its best
// candidate to the top rung.
int PromotionSlots(int finished, int eta, bool closed);

}  // namespace moe4
