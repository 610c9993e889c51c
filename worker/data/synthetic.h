// A procedural, learnable image-classification dataset for tests and demos:
// each class is an oriented sine grating (orientation x frequency) plus, for
// large class counts, a bright blob at a class-specific position; every image
// gets a random phase, contrast, slight rotation, per-channel gain and pixel
// noise. Pure functions; safe from any thread.
#ifndef MOE4_WORKER_DATA_SYNTHETIC_H_
#define MOE4_WORKER_DATA_SYNTHETIC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "worker/data/dataset.h"

namespace moe4::worker {

struct SyntheticOptions {
  int channels = 3;          // 1..4
  int size = 32;             // square side, 8..256
  int classes = 10;          // 2..216 (6 orientations x 4 frequencies x 9 blobs)
  int64_t train = 10000;     // training images
  int64_t test = 2000;       // test images
  double noise = 0.15;       // pixel noise std on the [0, 1] scale
  uint64_t seed = 20240917;  // fixed: every job of a campaign sees the same data
};

// Parses "synthetic" or "synthetic:channels=1,size=28,classes=10,noise=0.2".
absl::StatusOr<SyntheticOptions> ParseSyntheticName(const std::string& name);

// Generates `count` images with labels cycling through the classes in a
// seeded random order.
Dataset MakeSynthetic(const SyntheticOptions& options, int64_t count, uint64_t seed, const std::string& name);

DatasetPair MakeSyntheticPair(const SyntheticOptions& options);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_DATA_SYNTHETIC_H_
