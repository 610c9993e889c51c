// EpochMetrics as one flat JSON object (moe4-train's output lines and the
// daemon's logs). Pure; safe from any thread.
#ifndef MOE4_WORKER_TRAIN_METRICS_JSON_H_
#define MOE4_WORKER_TRAIN_METRICS_JSON_H_

#include <nlohmann/json.hpp>

#include "moe4/v1/moe4.pb.h"

namespace moe4::worker {

nlohmann::json MetricsToJson(const moe4::v1::EpochMetrics& m);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_TRAIN_METRICS_JSON_H_
