// The family registry: catalogue id -> factory building that expert for a
// dataset shape. Populate it once with RegisterBuiltinFamilies() (explicit, so
// the linker cannot drop a family) before sharing it; after that, concurrent
// Create()/Contains() calls are safe because nothing mutates it.
#ifndef MOE4_WORKER_MODELS_REGISTRY_H_
#define MOE4_WORKER_MODELS_REGISTRY_H_

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "worker/models/expert_options.h"

namespace moe4::worker {

// Builds one expert returning [B, num_classes] logits for [B, C, H, W] input.
using ExpertFactory = std::function<torch::nn::AnyModule(const ExpertOptions&)>;

class FamilyRegistry {
 public:
  // Adds a family; throws std::invalid_argument if the id is already taken.
  void Register(const std::string& id, ExpertFactory factory);

  bool Contains(const std::string& id) const;

  // Builds an expert; throws std::invalid_argument naming an unknown id or a
  // bad option (channels, image size, classes, width).
  torch::nn::AnyModule Create(const std::string& id, const ExpertOptions& options) const;

  // Registered ids in byte order.
  std::vector<std::string> Ids() const;

 private:
  std::map<std::string, ExpertFactory> factories_;
};

// Registers every family implemented in worker/models/ (one line each).
void RegisterBuiltinFamilies(FamilyRegistry& registry);

// A process-wide registry with the builtin families, built on first use
// (thread-safe static initialisation).
const FamilyRegistry& BuiltinRegistry();

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_REGISTRY_H_
