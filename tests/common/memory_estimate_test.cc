// The job memory estimate (common/memory_estimate.h) over the checked-in
// family table: the formula on a measured row, how each spec field scales
// it, the issue's hostile spec, and the campaign-level summary. Figures are
// computed from the table's rows, not copied, so that regenerating the table
// does not break these tests; the table's agreement with the networks is
// FamilyFootprint.TableMatchesTheModels (tests/worker).
#include "common/memory_estimate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/catalogue.h"
#include "common/family_footprint.h"

namespace moe4 {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

JobMemoryInput Input(Catalogue catalogue, std::vector<std::string> families, double width, int batch, int size) {
  JobMemoryInput in;
  in.catalogue = catalogue;
  in.families = std::move(families);
  in.width = width;
  in.batch_size = batch;
  in.image_size = size;
  in.channels = 3;
  in.classes = 10;
  in.precision = moe4::v1::PRECISION_FP32;
  return in;
}

CampaignSpec Spec(const std::string& yaml) {
  auto spec = ParseCampaignSpec(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : CampaignSpec{};
}

TEST(FamilyFootprintTable, HasEveryFamilyOfBothCataloguesAndTheGate) {
  for (Catalogue catalogue : {Catalogue::kAdapted, Catalogue::kLemur}) {
    for (const std::string& family : FamilyCatalogue()) {
      const FamilyFootprint* row = FindFamilyFootprint(catalogue, family);
      ASSERT_NE(row, nullptr) << CatalogueName(catalogue) << " " << family;
      EXPECT_GT(row->parameters, 0) << family;
      EXPECT_GT(row->activation_bytes_small, 0) << family;
      EXPECT_GE(row->small_size, MinimumImageSize(catalogue, family)) << family;
      EXPECT_GT(row->large_size, row->small_size) << family;
    }
  }
  EXPECT_EQ(GateFootprint().family, "gate");
  EXPECT_GT(GateFootprint().parameters, 0);
  EXPECT_EQ(FamilyFootprints().size(), 2 * FamilyCatalogue().size() + 1);
}

// At the measured point (width 1, the small size, 10 classes) the estimate
// is exactly the documented formula over the rows.
TEST(MemoryEstimate, IsTheDocumentedFormulaAtTheMeasuredPoint) {
  const FamilyFootprint& resnet = *FindFamilyFootprint(Catalogue::kAdapted, "ResNet");
  const FamilyFootprint& vgg = *FindFamilyFootprint(Catalogue::kAdapted, "VGG");
  const FamilyFootprint& gate = GateFootprint();
  const int batch = 128, size = 32;
  const JobMemoryEstimate e = EstimateJobMemory(Input(Catalogue::kAdapted, {"ResNet", "VGG"}, 1.0, batch, size));
  const double params = static_cast<double>(resnet.parameters + vgg.parameters + gate.parameters);
  const double activations =
      static_cast<double>(resnet.activation_bytes_small + vgg.activation_bytes_small + gate.activation_bytes_small) *
          batch +
      4.0 * batch * 3 * size * size * 4;
  EXPECT_EQ(e.parameters, static_cast<int64_t>(params));
  EXPECT_EQ(e.parameter_bytes, static_cast<int64_t>(params * 16));
  EXPECT_NEAR(static_cast<double>(e.activation_bytes), activations, 1.0);
  EXPECT_EQ(e.total_mb, static_cast<int64_t>(std::ceil((params * 16 + activations) * 1.25 / kMiB)) + 512);
  EXPECT_TRUE(e.unmeasured.empty());
}

// How each field moves the estimate (table-driven): the ratio of the
// changed term to the base case, within bounds.
struct ScalingCase {
  const char* what;
  JobMemoryInput changed;
  bool parameters;  // compare parameter bytes (else activation bytes)
  double min_ratio, max_ratio;
};

TEST(MemoryEstimate, ScalesWithEachField) {
  const JobMemoryInput base = Input(Catalogue::kAdapted, {"ResNet", "VGG"}, 1.0, 64, 32);
  auto with = [&](auto change) {
    JobMemoryInput in = base;
    change(in);
    return in;
  };
  const std::vector<ScalingCase> cases = {
      {"batch x2: activations x~2 (the input and gate too)", with([](auto& in) { in.batch_size = 128; }), false, 1.99,
       2.01},
      {"batch x2: parameters unchanged", with([](auto& in) { in.batch_size = 128; }), true, 1.0, 1.0},
      {"width x2: parameters x~4 (conv weights are width^2)", with([](auto& in) { in.width = 2; }), true, 3.3, 4.2},
      {"width x2: activations x1.3..2 (channels)", with([](auto& in) { in.width = 2; }), false, 1.3, 2.01},
      {"size 64: ResNet and VGG's maps grow with the pixels, up to x4", with([](auto& in) { in.image_size = 64; }),
       false, 1.1, 4.01},
      {"100 classes: a wider head", with([](auto& in) { in.classes = 100; }), true, 1.0001, 1.1},
      {"bf16: 18 bytes per parameter", with([](auto& in) { in.precision = moe4::v1::PRECISION_BF16; }), true,
       18.0 / 16 - 1e-6, 18.0 / 16 + 1e-6},
      {"bf16: activations x0.6", with([](auto& in) { in.precision = moe4::v1::PRECISION_BF16; }), false, 0.6, 0.62},
      {"auto, device unknown: fp32 activations", with([](auto& in) { in.precision = moe4::v1::PRECISION_AUTO; }), false,
       1.0, 1.0},
      {"auto, device unknown: 18 bytes per parameter", with([](auto& in) { in.precision = moe4::v1::PRECISION_AUTO; }),
       true, 18.0 / 16 - 1e-6, 18.0 / 16 + 1e-6},
      {"auto on cuda: mixed activations",
       with([](auto& in) { in.precision = moe4::v1::PRECISION_AUTO, in.device_kind = "cuda"; }), false, 0.6, 0.62},
      {"auto on cpu: fp32 parameters",
       with([](auto& in) { in.precision = moe4::v1::PRECISION_AUTO, in.device_kind = "cpu"; }), true, 1.0, 1.0},
  };
  const JobMemoryEstimate b = EstimateJobMemory(base);
  for (const ScalingCase& c : cases) {
    const JobMemoryEstimate e = EstimateJobMemory(c.changed);
    const double ratio = c.parameters ? static_cast<double>(e.parameter_bytes) / b.parameter_bytes
                                      : static_cast<double>(e.activation_bytes) / b.activation_bytes;
    EXPECT_GE(ratio, c.min_ratio) << c.what;
    EXPECT_LE(ratio, c.max_ratio) << c.what;
  }
}

// Global attention grows faster than the pixels: the table's ViT/Swin rows
// extrapolate upward, never below the measured point.
TEST(MemoryEstimate, NeverShrinksAsTheInputGrows) {
  for (Catalogue catalogue : {Catalogue::kAdapted, Catalogue::kLemur}) {
    for (const std::string& family : FamilyCatalogue()) {
      const FamilyFootprint& row = *FindFamilyFootprint(catalogue, family);
      int64_t last = 0;
      for (int size : {row.small_size, row.large_size, 2 * row.large_size, 512}) {
        if (MaximumImageSize(catalogue, family) > 0 && size > MaximumImageSize(catalogue, family)) continue;
        const int64_t bytes = EstimateJobMemory(Input(catalogue, {family}, 1.0, 32, size)).activation_bytes;
        EXPECT_GE(bytes, last) << CatalogueName(catalogue) << " " << family << " at " << size;
        last = bytes;
      }
    }
  }
}

// The issue's example: width 4, batch 4096, resize 512 on SwinTransformer +
// VisionTransformer passed validation and would exhaust any worker.
TEST(MemoryEstimate, TheIssuesHostileSpecNeedsTerabytes) {
  const CampaignSpec spec = Spec(R"(name: hostile
families: [SwinTransformer, VisionTransformer]
k: 2
budget: 1
dataset: {name: cifar10, resize: 512}
recipe: {batch_size: 4096, width: 4}
)");
  const JobMemoryEstimate e = EstimateJobMemory(JobMemoryInputOf(spec, {"SwinTransformer", "VisionTransformer"}));
  EXPECT_GT(e.total_mb, 1024 * 1024) << "more than 1 TiB";
  // The same pair at the published recipe (batch 128, 32x32, width 1) fits a
  // small GPU.
  const CampaignSpec normal = Spec(R"(name: normal
families: [SwinTransformer, VisionTransformer]
k: 2
budget: 1
dataset: {name: cifar10}
)");
  const JobMemoryEstimate n = EstimateJobMemory(JobMemoryInputOf(normal, {"SwinTransformer", "VisionTransformer"}));
  EXPECT_GT(n.total_mb, 512);
  EXPECT_LT(n.total_mb, 8 * 1024);
}

TEST(MemoryEstimate, NamesFamiliesTheTableDoesNotHave) {
  const JobMemoryEstimate e = EstimateJobMemory(Input(Catalogue::kAdapted, {"ResNet", "NoSuchNet"}, 1.0, 8, 32));
  ASSERT_EQ(e.unmeasured.size(), 1u);
  EXPECT_EQ(e.unmeasured[0], "NoSuchNet");
  EXPECT_GT(e.total_mb, kMemoryRuntimeOverheadMb);
}

struct DatasetCase {
  const char* name;
  int channels, classes;
};

TEST(MemoryEstimate, DatasetShapes) {
  const std::vector<DatasetCase> cases = {
      {"fashion-mnist", 1, 10}, {"mnist", 1, 10},    {"cifar10", 3, 10},
      {"cifar100", 3, 100},     {"tinyimagenet", 3, 200}, {"folder", 3, 100},
      {"synthetic", 3, 10},     {"synthetic:channels=1,size=28,classes=7", 1, 7},
  };
  for (const DatasetCase& c : cases) {
    moe4::v1::DatasetSpec d;
    d.set_name(c.name);
    EXPECT_EQ(DatasetChannels(d), c.channels) << c.name;
    EXPECT_EQ(DatasetClasses(d), c.classes) << c.name;
  }
}

TEST(CampaignMemoryEstimate, GivesTheHeaviestCombinationAndWarnsOnUnknownSizes) {
  const CampaignSpec spec = Spec(R"(name: c
catalogue: adapted
families: [ResNet, ShuffleNet, VGG]
k: 2
budget: 3
dataset: {name: cifar10}
)");
  const std::vector<std::vector<std::string>> combos = {
      {"ResNet", "ShuffleNet"}, {"ResNet", "VGG"}, {"ShuffleNet", "VGG"}, {"ResNet", "VGG"}};
  const CampaignMemoryEstimate m = EstimateCampaignMemory(spec, combos);
  ASSERT_EQ(m.combination_mb.size(), 4u);
  EXPECT_EQ(m.heaviest_families, (std::vector<std::string>{"ResNet", "VGG"}));
  EXPECT_EQ(m.heaviest_mb, m.combination_mb[1]);
  EXPECT_EQ(m.lightest_mb, m.combination_mb[0]);
  EXPECT_LT(m.lightest_mb, m.heaviest_mb);
  EXPECT_TRUE(m.warnings.empty());
  EXPECT_NE(MemoryEstimateFields(spec).find("recipe.batch_size 128"), std::string::npos);

  const CampaignSpec folder = Spec(R"(name: f
catalogue: adapted
families: [ResNet, VGG]
k: 2
budget: 1
dataset: {name: folder, path: pets}
)");
  const CampaignMemoryEstimate f = EstimateCampaignMemory(folder, {{"ResNet", "VGG"}});
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_NE(f.warnings[0].find("dataset.resize"), std::string::npos) << f.warnings[0];
}

}  // namespace
}  // namespace moe4
