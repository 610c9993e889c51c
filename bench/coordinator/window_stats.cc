#include "bench/coordinator/window_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace moe4::bench {
namespace {

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

LatencySummary SummariseCalls(const std::vector<const WorkerRecord*>& records,
                              std::vector<RpcSample> WorkerRecord::*calls, Clock::time_point begin,
                              Clock::time_point end) {
  std::vector<double> ms;
  for (const WorkerRecord* r : records) {
    for (const RpcSample& s : r->*calls) {
      if (s.start >= begin && s.start < end) ms.push_back(Ms(s.took));
    }
  }
  LatencySummary out;
  out.count = static_cast<int64_t>(ms.size());
  if (ms.empty()) return out;
  out.mean_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / ms.size();
  out.max_ms = *std::max_element(ms.begin(), ms.end());
  out.p50_ms = Percentile(ms, 50);
  out.p99_ms = Percentile(std::move(ms), 99);
  return out;
}

int64_t EndedWithin(const std::vector<RpcSample>& calls, Clock::time_point begin, Clock::time_point end) {
  return std::count_if(calls.begin(), calls.end(),
                       [&](const RpcSample& s) { return s.end() >= begin && s.end() < end; });
}

}  // namespace

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values.size()));
  const size_t index = std::min(values.size() - 1, rank == 0 ? 0 : rank - 1);
  std::nth_element(values.begin(), values.begin() + index, values.end());
  return values[index];
}

WindowStats Summarise(const std::vector<const WorkerRecord*>& records, Clock::time_point begin, Clock::time_point end) {
  WindowStats w;
  w.seconds = std::chrono::duration<double>(end - begin).count();
  for (const WorkerRecord* r : records) {
    w.trials += EndedWithin(r->complete, begin, end);
    w.epoch_rows += EndedWithin(r->report, begin, end);
  }
  w.lease = SummariseCalls(records, &WorkerRecord::lease, begin, end);
  w.report = SummariseCalls(records, &WorkerRecord::report, begin, end);
  w.complete = SummariseCalls(records, &WorkerRecord::complete, begin, end);
  return w;
}

}  // namespace moe4::bench
