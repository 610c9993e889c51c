// Family-specific checks for ICNet, InceptionV3-1, MaxVit, MobileNetV2,
// RegNet, ResNet, SqueezeNet-1, SwinTransformer, UNet2D, VGG and
// VisionTransformer (the shared shape/finiteness checks over every registered
// family live in models_test.cc): reference parameter counts at width 1.0,
// scaling with width, train/eval differences, the attention families' patch
// and window rules on sizes that do and do not divide, and one optimiser step
// of each inside a K = 4 mixture.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "worker/models/maxvit.h"
#include "worker/models/regnet.h"
#include "worker/models/registry.h"
#include "worker/models/resnet.h"
#include "worker/models/swin_transformer.h"
#include "worker/models/vision_transformer.h"
#include "worker/moe/ensemble.h"

namespace moe4::worker {
namespace {

const std::vector<std::string> kBatchB = {"ICNet",  "InceptionV3-1", "MaxVit", "MobileNetV2",
                                          "RegNet", "ResNet",        "SqueezeNet-1", "SwinTransformer",
                                          "UNet2D", "VGG",           "VisionTransformer"};

int64_t Count(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

ExpertOptions Options(double width, int size = 32, int channels = 3, int classes = 10) {
  ExpertOptions o;
  o.in_channels = channels;
  o.image_size = size;
  o.num_classes = classes;
  o.width = width;
  return o;
}

// A catalogue id as a test name ("InceptionV3-1" -> "InceptionV3_1").
std::string Identifier(const std::string& family) {
  std::string id;
  for (char c : family) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return id;
}

// --- Parameter counts at width 1.0 (32x32x3, 10 classes) ---------------------

struct Expected {
  std::string family;
  double min_millions;
  double max_millions;
};

void PrintTo(const Expected& e, std::ostream* os) {
  *os << e.family << " [" << e.min_millions << "M, " << e.max_millions << "M]";
}

class FamiliesBParameterCount : public ::testing::TestWithParam<Expected> {};

TEST_P(FamiliesBParameterCount, ReferenceConfigAtWidthOne) {
  const auto& e = GetParam();
  auto expert = BuiltinRegistry().Create(e.family, Options(1.0));
  const int64_t count = Count(*expert.ptr());
  RecordProperty("parameters", std::to_string(count));  // in --gtest_output=xml
  const double millions = count / 1e6;
  EXPECT_GE(millions, e.min_millions) << e.family;
  EXPECT_LE(millions, e.max_millions) << e.family;
}

// The reference models' published sizes, less the 1000-class heads.
INSTANTIATE_TEST_SUITE_P(
    FamiliesB, FamiliesBParameterCount,
    ::testing::Values(Expected{"ICNet", 3.8, 4.2},                // 64/128/256, dilated units, PPM, fusion
                      Expected{"InceptionV3-1", 21.0, 22.5},      // torchvision, no aux head: 21.8M
                      Expected{"MaxVit", 29.0, 31.5},             // MaxViT-T: 30.9M with 1000 classes
                      Expected{"MobileNetV2", 2.1, 2.4},          // 3.5M - 1.28M head
                      Expected{"RegNet", 3.7, 4.1},               // RegNetY-400MF: 4.3M - 0.44M head
                      Expected{"ResNet", 11.0, 11.3},             // ResNet-18: 11.7M - 0.51M head
                      Expected{"SqueezeNet-1", 0.70, 0.80},       // SqueezeNet 1.0: 1.25M - 0.51M head
                      Expected{"SwinTransformer", 27.0, 28.0},    // Swin-T: 28.3M - 0.77M head
                      Expected{"UNet2D", 30.5, 31.5},             // U-Net with BN: 31.0M
                      Expected{"VGG", 33.0, 34.0},                // 14.7M features + 4096-4096 head
                      Expected{"VisionTransformer", 5.2, 5.5}),   // ViT-Ti, 4x4 patches
    [](const ::testing::TestParamInfo<Expected>& info) { return Identifier(info.param.family); });

// --- Width scaling -----------------------------------------------------------

class FamiliesBFamily : public ::testing::TestWithParam<std::string> {};

TEST_P(FamiliesBFamily, ParametersShrinkWithWidth) {
  const auto& family = GetParam();
  const int64_t full = Count(*BuiltinRegistry().Create(family, Options(1.0)).ptr());
  const int64_t half = Count(*BuiltinRegistry().Create(family, Options(0.5)).ptr());
  const int64_t quarter = Count(*BuiltinRegistry().Create(family, Options(0.25)).ptr());
  EXPECT_LT(half, 0.6 * full) << family;
  EXPECT_LT(quarter, half) << family;
}

// Dropout / stochastic depth make two training-mode passes differ; eval mode
// is deterministic. Families without them are deterministic in both.
TEST_P(FamiliesBFamily, TrainAndEvalModes) {
  const auto& family = GetParam();
  const bool stochastic = family != "ResNet" && family != "RegNet" && family != "UNet2D";
  torch::manual_seed(5);
  auto expert = BuiltinRegistry().Create(family, Options(0.125, 32, 3, 7));
  auto x = torch::randn({4, 3, 32, 32});
  torch::NoGradGuard no_grad;
  expert.ptr()->train();
  auto a = expert.forward(x);
  auto b = expert.forward(x);
  EXPECT_EQ(!torch::allclose(a, b), stochastic) << family;
  expert.ptr()->eval();
  EXPECT_TRUE(torch::equal(expert.forward(x), expert.forward(x))) << family;
}

// An odd (prime) and a larger input side, one and three channels.
TEST_P(FamiliesBFamily, OtherInputSizes) {
  const auto& family = GetParam();
  for (int size : {29, 40}) {
    for (int channels : {1, 3}) {
      torch::manual_seed(1);
      auto expert = BuiltinRegistry().Create(family, Options(0.125, size, channels, 3));
      expert.ptr()->train();
      auto logits = expert.forward(torch::randn({2, channels, size, size}));
      ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 3})) << family << " " << size;
      ASSERT_TRUE(torch::isfinite(logits).all().item<bool>()) << family << " " << size;
    }
  }
}

// One K = 4 mixture per family with the next three of this batch plus the
// eight published families (byte order, wrapping): two Adam steps on random
// data at width 0.125 change the family's weights and keep the loss finite.
TEST_P(FamiliesBFamily, TrainsInsideAMixtureOfFour) {
  const auto& family = GetParam();
  std::vector<std::string> pool = kBatchB;
  for (const char* id :
       {"AirNet", "AlexNet", "BagNet", "DenseNet", "FractalNet", "MNASNet", "MobileNetV3", "ShuffleNet"}) {
    pool.push_back(id);
  }
  std::sort(pool.begin(), pool.end());
  const auto at = std::find(pool.begin(), pool.end(), family) - pool.begin();
  std::vector<std::string> families;
  for (size_t i = 0; i < 4; ++i) families.push_back(pool[(at + i) % pool.size()]);

  torch::manual_seed(3);
  GateOptions gate;
  gate.in_channels = 1;
  MixtureOfExperts moe(BuiltinRegistry(), families, Options(0.125, 28, 1, 10), gate);
  moe->train();
  torch::optim::Adam optimizer(moe->parameters(), torch::optim::AdamOptions(1e-3));
  std::vector<torch::Tensor> before;
  for (const auto& p : moe->named_parameters()) {
    if (p.key().rfind("expert0.", 0) == 0) before.push_back(p.value().detach().clone());
  }
  ASSERT_FALSE(before.empty());
  for (int step = 0; step < 2; ++step) {
    auto x = torch::randn({4, 1, 28, 28});
    auto y = torch::randint(0, 10, {4}, torch::kLong);
    optimizer.zero_grad();
    auto loss = torch::cross_entropy_loss(moe->forward(x).logits, y);
    ASSERT_TRUE(std::isfinite(loss.item<double>())) << family;
    loss.backward();
    optimizer.step();
  }
  int changed = 0;
  size_t i = 0;
  for (const auto& p : moe->named_parameters()) {
    if (p.key().rfind("expert0.", 0) != 0) continue;
    ASSERT_TRUE(torch::isfinite(p.value()).all().item<bool>()) << family << " " << p.key();
    if (!torch::equal(p.value(), before[i++])) ++changed;
  }
  EXPECT_GT(changed, static_cast<int>(before.size()) / 2) << family;
}

INSTANTIATE_TEST_SUITE_P(FamiliesB, FamiliesBFamily, ::testing::ValuesIn(kBatchB),
                         [](const ::testing::TestParamInfo<std::string>& info) { return Identifier(info.param); });

// --- Attention families: patch and window sizes ------------------------------

TEST(FamiliesBAttention, VisionTransformerPatchDividesOrPads) {
  EXPECT_EQ(VisionTransformerPatch(28), std::make_pair(4, 0));  // 7x7 tokens
  EXPECT_EQ(VisionTransformerPatch(32), std::make_pair(4, 0));  // 8x8
  EXPECT_EQ(VisionTransformerPatch(40), std::make_pair(5, 0));  // 8x8
  EXPECT_EQ(VisionTransformerPatch(29), std::make_pair(4, 3));  // prime: pad to 32
  EXPECT_EQ(VisionTransformerPatch(224), std::make_pair(28, 0));
  VisionTransformer vit(Options(0.125, 29, 1, 5));
  EXPECT_EQ(vit->padding(), 3);
  EXPECT_EQ(vit->forward(torch::randn({2, 1, 29, 29})).sizes(), (std::vector<int64_t>{2, 5}));
}

TEST(FamiliesBAttention, SwinWindowsDivideTheStageMaps) {
  struct Case {
    int size, patch;
    std::vector<int> resolutions, windows;
  };
  for (const auto& c : {Case{28, 1, {28, 14, 7, 4}, {7, 7, 7, 4}}, Case{32, 2, {16, 8, 4, 2}, {4, 4, 4, 2}},
                        Case{40, 2, {20, 10, 5, 3}, {5, 5, 5, 3}},
                        Case{29, 1, {29, 15, 8, 4}, {7, 5, 4, 4}}}) {  // 29: padded to 35 for 7x7 windows
    SwinTransformer swin(Options(0.125, c.size, 1, 4));
    EXPECT_EQ(swin->patch_size(), c.patch) << c.size;
    EXPECT_EQ(swin->resolutions(), c.resolutions) << c.size;
    EXPECT_EQ(swin->windows(), c.windows) << c.size;
    for (size_t i = 0; i < c.resolutions.size(); ++i) {
      const bool divides = c.resolutions[i] % c.windows[i] == 0;
      EXPECT_TRUE(divides || c.size == 29) << c.size << " stage " << i;
    }
    EXPECT_EQ(swin->forward(torch::randn({2, 1, c.size, c.size})).size(1), 4);
  }
}

TEST(FamiliesBAttention, SwinShiftedWindowsAreMasked) {
  // At 28x28 the maps are 28, 14, 7, 4 with windows 7, 7, 7, 4: the second
  // block of the first two stages shifts by 3 and masks the regions the
  // cyclic shift joins; a window covering the whole map has no shift.
  SwinTransformer swin(Options(0.125, 28, 1, 4));
  int masks = 0;
  for (const auto& buffer : swin->named_buffers()) {
    if (buffer.key().find("mask") == std::string::npos) continue;
    ++masks;
    EXPECT_EQ(buffer.value().size(1), 49);
    EXPECT_TRUE((buffer.value() < 0).any().item<bool>());
  }
  EXPECT_EQ(masks, 2);
}

TEST(FamiliesBAttention, MaxVitPartitionsDivideTheStageMaps) {
  MaxVit small(Options(0.125, 28, 1, 4));
  EXPECT_EQ(small->resolutions(), (std::vector<int>{28, 14, 7, 4}));
  EXPECT_EQ(small->partitions(), (std::vector<int>{7, 7, 7, 4}));
  MaxVit cifar(Options(0.125, 32, 3, 4));
  EXPECT_EQ(cifar->resolutions(), (std::vector<int>{16, 8, 4, 2}));
  EXPECT_EQ(cifar->partitions(), (std::vector<int>{4, 4, 4, 2}));
  MaxVit large(Options(0.125, 40, 3, 4));
  EXPECT_EQ(large->partitions(), (std::vector<int>{5, 5, 5, 3}));
}

// --- Configs -----------------------------------------------------------------

TEST(FamiliesBConfig, RegNetDesignSpaceGivesRegNetY400MF) {
  const std::vector<std::pair<int, int>> expected = {{48, 1}, {104, 3}, {208, 6}, {440, 6}};
  EXPECT_EQ(RegNetStages(48, 27.89, 2.09, 16, 8), expected);
}

TEST(FamiliesBConfig, ResNetBottleneckDepths) {
  ResNet resnet50(Options(1.0), 50);
  EXPECT_NEAR(Count(*resnet50) / 1e6, 23.5, 0.1);  // ResNet-50: 25.6M - 2.05M head
  ResNet tiny(Options(0.125, 28, 1, 6), 50);
  EXPECT_EQ(tiny->forward(torch::randn({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 6}));
  EXPECT_THROW(ResNet(Options(1.0), 20), std::invalid_argument);
}

}  // namespace
}  // namespace moe4::worker
