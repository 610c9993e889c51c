// The MoE gate exactly as the design fixes it: a small CNN (3x3 conv s2 -> BN
// -> ReLU, twice, C->64->128; global average pool; Linear 128->64 -> ReLU ->
// Dropout 0.1 -> Linear 64->K). Logits are divided by a learnable temperature
// T (clamped to [0.5, 5]), Gaussian noise is added in training only, a softmax
// gives the weights, and optional top-k keeps the k largest, renormalised.
// Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MOE_GATE_H_
#define MOE4_WORKER_MOE_GATE_H_

#include <torch/torch.h>

namespace moe4::worker {

inline constexpr double kMinTemperature = 0.5;
inline constexpr double kMaxTemperature = 5.0;

struct GateOptions {
  int in_channels = 3;       // image channels
  int num_experts = 4;       // K
  double temperature = 2.0;  // initial T, clamped to [0.5, 5]
  double noise_std = 0.1;    // std of the training-only logit noise
  int top_k = 0;             // 0 or >= K: dense softmax
};

struct GateOutput {
  torch::Tensor weights;    // [B, K] routing weights (top-k applied), rows sum to 1
  torch::Tensor probs;      // [B, K] dense softmax before top-k
  torch::Tensor log_probs;  // [B, K] log of `probs` (stable), for the oracle term
};

class GateImpl : public torch::nn::Module {
 public:
  explicit GateImpl(const GateOptions& options);
  GateOutput forward(const torch::Tensor& x);

  // T as used in forward: the parameter clamped to [0.5, 5].
  torch::Tensor temperature() const;
  // Projects the parameter back into [0.5, 5] after an optimiser step, so that
  // the clamp in forward never leaves it stuck with a zero gradient outside.
  void ClampTemperature();
  // The raw temperature parameter (kept out of weight decay by the trainer).
  torch::Tensor temperature_parameter() const { return temperature_; }

 private:
  GateOptions options_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc2_{nullptr};
  torch::Tensor temperature_;
};
TORCH_MODULE(Gate);

// Keeps the k largest weights per row and renormalises them to sum to 1;
// k <= 0 or k >= K returns the input unchanged.
torch::Tensor TopKRenormalise(const torch::Tensor& probs, int k);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MOE_GATE_H_
