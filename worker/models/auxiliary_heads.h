// An optional interface for expert modules that carry auxiliary classifier
// heads used only in training (LEMUR's GoogLeNet builds two). In training mode
// the expert's forward returns the main logits and keeps the heads' logits of
// that forward; the trainer adds auxiliary_weight() x the data loss of each
// head's logits (same targets, same label smoothing and mixup as the main
// logits) to the expert's share of the objective. In eval mode the heads are
// not run and auxiliary_logits() is empty. Implementations are LibTorch
// modules and, like them, not thread-safe.
#ifndef MOE4_WORKER_MODELS_AUXILIARY_HEADS_H_
#define MOE4_WORKER_MODELS_AUXILIARY_HEADS_H_

#include <torch/torch.h>

#include <vector>

namespace moe4::worker {

class AuxiliaryHeadsSource {
 public:
  virtual ~AuxiliaryHeadsSource() = default;

  // [B, num_classes] logits of each head from the last training-mode forward;
  // empty after an eval-mode forward.
  virtual std::vector<torch::Tensor> auxiliary_logits() const = 0;

  // Weight of each head's loss relative to the main loss (GoogLeNet: 0.3 in
  // the paper and torchvision's reference training script).
  virtual double auxiliary_weight() const = 0;
};

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_AUXILIARY_HEADS_H_
