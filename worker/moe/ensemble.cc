#include "worker/moe/ensemble.h"

#include <stdexcept>

namespace moe4::worker {

MixtureOfExpertsImpl::MixtureOfExpertsImpl(const FamilyRegistry& registry, const std::vector<std::string>& families,
                                           const ExpertOptions& expert_options, const GateOptions& gate_options)
    : families_(families) {
  if (families.empty()) throw std::invalid_argument("families: need at least one");
  for (size_t i = 0; i < families.size(); ++i) {
    auto expert = registry.Create(families[i], expert_options);
    // Stable names: expert0..expertK-1 in `families` order.
    expert_modules_.push_back(register_module("expert" + std::to_string(i), expert.ptr()));
    if (auto* source = dynamic_cast<AuxiliaryLossSource*>(expert_modules_.back().get())) {
      auxiliary_sources_.push_back(source);
    }
    if (auto* heads = dynamic_cast<AuxiliaryHeadsSource*>(expert_modules_.back().get())) {
      auxiliary_heads_.push_back(heads);
    }
    experts_.push_back(std::move(expert));
  }
  GateOptions g = gate_options;
  g.num_experts = static_cast<int>(families.size());
  gate_ = register_module("gate", Gate(g));
}

MoEOutput MixtureOfExpertsImpl::forward(const torch::Tensor& x) {
  MoEOutput out;
  out.gate = gate_->forward(x);
  std::vector<torch::Tensor> logits;
  logits.reserve(experts_.size());
  for (auto& expert : experts_) logits.push_back(expert.forward(x));
  out.expert_logits = torch::stack(logits);  // [K, B, C]
  out.logits = (out.gate.weights.t().unsqueeze(2) * out.expert_logits).sum(0);
  out.auxiliary_loss = torch::zeros({}, out.logits.options());
  for (auto* source : auxiliary_sources_) out.auxiliary_loss = out.auxiliary_loss + source->auxiliary_loss();
  for (auto* heads : auxiliary_heads_) {
    for (auto& logits : heads->auxiliary_logits()) out.auxiliary_logits.push_back({heads->auxiliary_weight(), logits});
  }
  return out;
}

std::vector<torch::Tensor> MixtureOfExpertsImpl::expert_parameters() const {
  std::vector<torch::Tensor> params;
  for (const auto& m : expert_modules_) {
    for (auto& p : m->parameters()) params.push_back(p);
  }
  return params;
}

std::vector<torch::Tensor> MixtureOfExpertsImpl::gate_parameters() const {
  std::vector<torch::Tensor> params;
  const auto* temperature = gate_->temperature_parameter().unsafeGetTensorImpl();
  for (auto& p : gate_->parameters()) {
    if (p.unsafeGetTensorImpl() != temperature) params.push_back(p);
  }
  return params;
}

int64_t CountParameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) {
    if (p.requires_grad()) n += p.numel();
  }
  return n;
}

}  // namespace moe4::worker
