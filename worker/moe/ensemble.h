// The heterogeneous mixture: K experts from the family registry and one gate;
// output = sum_i g_i(x) * f_i(x) over class logits. forward() also returns
// the gate weights and every expert's logits, which the losses and metrics
// need. Not thread-safe (a LibTorch module).
#ifndef MOE4_WORKER_MOE_ENSEMBLE_H_
#define MOE4_WORKER_MOE_ENSEMBLE_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "worker/models/auxiliary_heads.h"
#include "worker/models/auxiliary_loss.h"
#include "worker/models/expert_options.h"
#include "worker/models/registry.h"
#include "worker/moe/gate.h"

namespace moe4::worker {

struct MoEOutput {
  torch::Tensor logits;         // [B, classes] = sum_i weights[:, i] * expert_logits[i]
  torch::Tensor expert_logits;  // [K, B, classes]
  GateOutput gate;              // weights / probs / log_probs, [B, K]
  // Scalar sum of auxiliary_loss() over the experts that are an
  // AuxiliaryLossSource (a data-set-level term such as a KL); 0 when none.
  torch::Tensor auxiliary_loss;
  // Training-mode logits of experts' auxiliary classifier heads
  // (AuxiliaryHeadsSource, e.g. LEMUR's GoogLeNet), each with its loss
  // weight; empty in eval mode or when no expert has heads.
  struct WeightedLogits {
    double weight;
    torch::Tensor logits;  // [B, classes]
  };
  std::vector<WeightedLogits> auxiliary_logits;
};

class MixtureOfExpertsImpl : public torch::nn::Module {
 public:
  // Throws std::invalid_argument for an unknown family or bad options.
  MixtureOfExpertsImpl(const FamilyRegistry& registry, const std::vector<std::string>& families,
                       const ExpertOptions& expert_options, const GateOptions& gate_options);
  MoEOutput forward(const torch::Tensor& x);

  int num_experts() const { return static_cast<int>(experts_.size()); }
  const std::vector<std::string>& families() const { return families_; }
  Gate& gate() { return gate_; }

  std::vector<torch::Tensor> expert_parameters() const;
  // Gate parameters except the temperature.
  std::vector<torch::Tensor> gate_parameters() const;

 private:
  std::vector<std::string> families_;
  std::vector<torch::nn::AnyModule> experts_;
  std::vector<std::shared_ptr<torch::nn::Module>> expert_modules_;
  std::vector<AuxiliaryLossSource*> auxiliary_sources_;  // into expert_modules_
  std::vector<AuxiliaryHeadsSource*> auxiliary_heads_;   // into expert_modules_
  Gate gate_{nullptr};
};
TORCH_MODULE(MixtureOfExperts);

// Trainable parameter count of a module (for CompleteRequest.parameter_count).
int64_t CountParameters(const torch::nn::Module& module);

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MOE_ENSEMBLE_H_
