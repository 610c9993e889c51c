// Options every expert family is built from: the dataset's shape, a width
// multiplier and the catalogue. A plain value type; safe to copy and share between threads.
#ifndef MOE4_WORKER_MODELS_EXPERT_OPTIONS_H_
#define MOE4_WORKER_MODELS_EXPERT_OPTIONS_H_

#include "common/catalogue_kind.h"

namespace moe4::worker {

struct ExpertOptions {
  int in_channels = 3;   // 1 (greyscale) or 3 (RGB); any positive count works
  int image_size = 32;   // square side of the input in pixels, 28 and up
  int num_classes = 10;  // width of the logits the expert returns
  double width = 1.0;    // channel multiplier; 1.0 = the family's reference width
  // Which network a family id builds. Jobs take it from the campaign (whose
  // spec defaults to lemur); adapted here keeps code that builds one expert
  // directly on the small-input designs.
  Catalogue catalogue = Catalogue::kAdapted;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_EXPERT_OPTIONS_H_
