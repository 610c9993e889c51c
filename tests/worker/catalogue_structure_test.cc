// No two families of one catalogue build the same network: every pair of
// families' module trees is compared by structure (the built-in layers in
// registration order with their parameter shapes; our own container classes
// are left out, so renaming a class cannot hide a copy). LEMUR's DPN68 and
// DPN131 files build the same network (shared/LEMUR.md), and the lemur
// catalogue keeps that quirk: the one documented exception.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "worker/models/registry.h"

namespace moe4::worker {
namespace {

// "Conv2dImpl[64,3,3,3][64];BatchNorm2dImpl[64][64];..." over the leaves.
std::string Structure(const torch::nn::Module& root) {
  std::ostringstream out;
  for (const auto& module : root.modules(/*include_self=*/true)) {
    const auto params = module->named_parameters(/*recurse=*/false);
    const auto buffers = module->named_buffers(/*recurse=*/false);
    if (params.is_empty() && buffers.is_empty()) continue;
    std::string type = module->name();
    // Only the built-in layer's name counts ("torch::nn::Conv2dImpl"); a
    // family's own class with parameters of its own counts by shapes alone.
    if (type.rfind("torch::nn::", 0) != 0) type = "custom";
    out << type;
    for (const auto& p : params) out << p.value().sizes();
    for (const auto& b : buffers) out << "b" << b.value().sizes();
    out << ";";
  }
  return out.str();
}

struct Case {
  Catalogue catalogue;
  std::set<std::pair<std::string, std::string>> allowed_twins;
};

class CatalogueStructureTest : public ::testing::TestWithParam<Case> {};

TEST_P(CatalogueStructureTest, NoTwoFamiliesBuildTheSameNetwork) {
  const Case& c = GetParam();
  ExpertOptions o;
  o.catalogue = c.catalogue;
  o.in_channels = 3;
  o.num_classes = 10;
  o.width = 0.5;
  o.image_size = 96;  // at least every lemur family's smallest accepted input
  std::map<std::string, std::string> by_structure;
  const auto ids = BuiltinRegistry().Ids(c.catalogue);
  ASSERT_EQ(ids.size(), 29u);
  for (const auto& id : ids) {
    torch::NoGradGuard no_grad;
    const std::string structure = Structure(*BuiltinRegistry().Create(id, o).ptr());
    auto [it, fresh] = by_structure.emplace(structure, id);
    if (!fresh) {
      EXPECT_TRUE(c.allowed_twins.count({it->second, id}) > 0)
          << CatalogueName(c.catalogue) << ": " << it->second << " and " << id << " build the same network";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Both, CatalogueStructureTest,
                         ::testing::Values(Case{Catalogue::kAdapted, {}},
                                           Case{Catalogue::kLemur, {{"DPN131", "DPN68"}}}),
                         [](const auto& info) { return std::string(CatalogueName(info.param.catalogue)); });

}  // namespace
}  // namespace moe4::worker
