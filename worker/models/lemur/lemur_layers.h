// Small helpers shared by the `lemur` catalogue's families (worker/models/lemur/):
// the width rule. LEMUR's networks have no width multiplier; moe4 adds one so
// a campaign can shrink every expert alike. Pure functions; thread-safe.
#ifndef MOE4_WORKER_MODELS_LEMUR_LEMUR_LAYERS_H_
#define MOE4_WORKER_MODELS_LEMUR_LEMUR_LAYERS_H_

namespace moe4::worker::lemur {

// A LEMUR channel count scaled by `width`: exactly `reference` at width 1.0
// (so parameter counts equal LEMUR's), otherwise rounded to the nearest
// multiple of `divisor` and never below `divisor` (grouped convolutions and
// attention heads need divisible widths).
int Scaled(int reference, double width, int divisor = 1);

}  // namespace moe4::worker::lemur

#endif  // MOE4_WORKER_MODELS_LEMUR_LEMUR_LAYERS_H_
