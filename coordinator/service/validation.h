// Bounds on request fields. Each check returns INVALID_ARGUMENT naming the
// field, e.g. "name: must be 1..128 characters, got 300". Pure; safe for
// concurrent use.
#pragma once

#include <cstdint>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace moe4::coordinator {

// Limits shared by the services; each names what it bounds.
inline constexpr size_t kMaxNameLength = 128;          // worker names
inline constexpr size_t kMaxLabelLength = 256;         // device names, versions
inline constexpr size_t kMaxReasonLength = 4096;       // failure reasons
inline constexpr int kMaxEpochsPerReport = 1000;       // EpochMetrics in one ReportEpochs
inline constexpr int kMaxEpoch = 100000;               // 1-based epoch numbers
inline constexpr int kMaxExperts = 8;                  // K upper bound (spec: 1..8)
inline constexpr int kMaxSkippedImageKeys = 1000;      // EpochMetrics.skipped_images entries
inline constexpr size_t kMaxSkippedImageKeyBytes = 512;  // one of its keys ("train/cat")
inline constexpr int kMaxListLimit = 1000;             // List.limit
inline constexpr int kMaxLeaderboardTop = 10000;       // Leaderboard.top
inline constexpr int kMaxJobsLimit = 100000;           // ListJobs.limit
inline constexpr int kMaxJobsWithEpochsLimit = 1000;   // ListJobs.limit with include_epochs
inline constexpr int64_t kMaxMemoryMb = int64_t{1} << 30;  // 1 PiB: larger is a bug
inline constexpr int kMaxThreads = 4096;
inline constexpr int kMaxObsoleteJobsAsked = 10000;  // ObsoleteJobs.job_ids

// Length within [min_len, max_len] and only printable ASCII without spaces
// when `token_chars` (names), or any UTF-8 without control characters other
// than newline and tab.
absl::Status CheckString(absl::string_view field, absl::string_view value, size_t min_len,
                         size_t max_len, bool token_chars = false);

absl::Status CheckRange(absl::string_view field, int64_t value, int64_t lo, int64_t hi);

// Finite and within [lo, hi].
absl::Status CheckFiniteRange(absl::string_view field, double value, double lo, double hi);

// A database id: > 0.
absl::Status CheckId(absl::string_view field, int64_t value);

}  // namespace moe4::coordinator
