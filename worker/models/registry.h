// The family registry: (catalogue, family id) -> factory building that
// expert for a dataset shape; ExpertOptions::catalogue picks the catalogue. Populate it once with RegisterBuiltinFamilies() (explicit, so
// the linker cannot drop a family) before sharing it; after that, concurrent
// Create()/Contains() calls are safe because nothing mutates it.
#ifndef MOE4_WORKER_MODELS_REGISTRY_H_
#define MOE4_WORKER_MODELS_REGISTRY_H_

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "worker/models/expert_options.h"

namespace moe4::worker {

// Builds one expert returning [B, num_classes] logits for [B, C, H, W] input.
using ExpertFactory = std::function<torch::nn::AnyModule(const ExpertOptions&)>;

class FamilyRegistry {
 public:
  // Adds a family to a catalogue; throws std::invalid_argument if the id is
  // already taken there. The one-argument form adds to the adapted catalogue.
  void Register(Catalogue catalogue, const std::string& id, ExpertFactory factory);
  void Register(const std::string& id, ExpertFactory factory) {
    Register(Catalogue::kAdapted, id, std::move(factory));
  }

  bool Contains(Catalogue catalogue, const std::string& id) const;
  bool Contains(const std::string& id) const { return Contains(Catalogue::kAdapted, id); }

  // Builds an expert; throws std::invalid_argument naming an unknown id or a
  // bad option (channels, image size, classes, width).
  torch::nn::AnyModule Create(const std::string& id, const ExpertOptions& options) const;

  // Registered ids of a catalogue in byte order.
  std::vector<std::string> Ids(Catalogue catalogue = Catalogue::kAdapted) const;

 private:
  std::map<std::pair<Catalogue, std::string>, ExpertFactory> factories_;
};

// Registers every family of both catalogues: the adapted designs in
// worker/models/ (one line each) and LEMUR's networks in worker/models/lemur/.
void RegisterBuiltinFamilies(FamilyRegistry& registry);

// A process-wide registry with the builtin families, built on first use
// (thread-safe static initialisation).
const FamilyRegistry& BuiltinRegistry();

}  // namespace moe4::worker

#endif  // MOE4_WORKER_MODELS_REGISTRY_H_
