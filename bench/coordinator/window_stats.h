// Reduces the workers' records to the figures of one measured window
// [begin, end): a trial counts when its Complete returned inside the window,
// an epoch row when its ReportEpochs returned inside it, a latency when its
// call started inside it. Warm-up before the window and the drain after it
// (workers finish the trial in flight) are therefore not counted.
// Pure functions; safe for concurrent use.
#pragma once

#include <cstdint>
#include <vector>

#include "bench/coordinator/load_worker.h"

namespace moe4::bench {

struct LatencySummary {
  int64_t count = 0;
  double p50_ms = 0, p99_ms = 0, mean_ms = 0, max_ms = 0;
};

struct WindowStats {
  double seconds = 0;
  int64_t trials = 0;
  int64_t epoch_rows = 0;
  LatencySummary lease, report, complete;
};

// Nearest-rank percentile of unsorted samples (p in [0, 100]); 0 when empty.
double Percentile(std::vector<double> values, double p);

WindowStats Summarise(const std::vector<const WorkerRecord*>& records, Clock::time_point begin, Clock::time_point end);

}  // namespace moe4::bench
