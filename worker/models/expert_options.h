// Options every expert family is built from: the dataset's shape and a width
// multiplier. A plain value type; safe to copy and share between threads.
#ifndef MOE4_WORKER_MODELS_EXPERT_OPTIONS_H_
#define MOE4_WORKER_MODELS_EXPERT_OPTIONS_H_

namespace moe4::worker {

struct ExpertOptions {
  int in_channels = 3;   // 1 (greyscale) or 3 (RGB); any positive count works
  int image_size = 32;   // square side of the input in pixels, 28 and up
  int num_classes = 10;  // width of the logits the expert returns
  double width = 1.0;    // channel multiplier; 1.0 = the family's reference width
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_EXPERT_OPTIONS_H_
