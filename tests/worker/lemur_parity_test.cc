// Parity of the `lemur` catalogue with LEMUR's own networks: every family's
// trainable parameter count at width 1.0 equals the count measured with
// LEMUR's code (shared/LEMUR.md; facts measured once, copied here), at
// 3x32x32 and 1x28x28, 10 classes. Then, at the smallest input the validator
// accepts for the family (common/catalogue_kind.cc), one forward gives
// [B, classes] logits and one backward gives finite gradients; one pixel less
// fails, so the validator's figure is the real limit.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/catalogue_kind.h"
#include "worker/models/lemur/families.h"

namespace moe4::worker::lemur {
namespace {

struct Published {
  std::string family;
  std::optional<int64_t> rgb32;   // 3x32x32; nullopt: LEMUR's network fails to build
  std::optional<int64_t> gray28;  // 1x28x28
};

void PrintTo(const Published& p, std::ostream* os) { *os << p.family; }

// shared/LEMUR.md, measured with LEMUR's code (python3-torch 1.13), 10 classes.
const std::vector<Published> kPublished = {
    {"AirNet", 4905226, 4904074},
    {"AirNext", 1509850, 1503578},
    {"AlexNet", 57044810, 57029322},
    {"BagNet", 1254890, 1248618},
    {"BayesianNet-1", 3565268, 3562068},
    {"ConvNeXt", 49462378, 49459306},
    {"DPN107", 15466, 14890},
    {"DPN131", 57162, 56586},
    {"DPN68", 57162, 56586},
    {"DarkNet", 3664714, 3664586},
    // LEMUR's bottleneck factor is in_shape[0] (a bug); the table's counts use
    // 1. Our port uses 4 (the published hetero-MoE's DenseNet expert, 6,964,106
    // at 3x32x32); kDenseNetFactor4 below checks that figure instead.
    {"DenseNet", std::nullopt, std::nullopt},
    {"Diffuser", 43658, 42506},
    {"EfficientNet", 4020358, 4019782},
    {"FractalNet", 33724618, std::nullopt},
    {"GoogLeNet", 9960638, 9954366},
    {"ICNet", 50538, 49962},
    {"InceptionV3-1", 21806058, 21805482},
    {"MNASNet", 1902018, 1901586},
    {"MaxVit", 30384520, 30383368},
    {"MobileNetV2", 2236682, 2236106},
    {"MobileNetV3", 591802, 591514},
    {"RegNet", 3907554, 3906978},
    {"ResNet", 11181642, 11175370},
    {"ShuffleNet", 1263854, 1263422},
    {"SqueezeNet-1", 740554, 731146},
    {"SwinTransformer", 27527044, 27523972},
    {"UNet2D", 560106, 559530},
    {"VGG", 128807306, 128806154},
    {"VisionTransformer", 85225738, 85115914},
};

// DenseNet with LEMUR's bottleneck factor fixed at 4 (shared/LEMUR.md).
constexpr int64_t kDenseNetFactor4 = 6964106;

const LemurFamily& Family(const std::string& id) {
  for (const auto& f : LemurFamilies()) {
    if (f.id == id) return f;
  }
  throw std::invalid_argument("no lemur family " + id);
}

ExpertOptions Shape(int channels, int size, double width = 1.0, int classes = 10) {
  ExpertOptions o;
  o.in_channels = channels;
  o.image_size = size;
  o.num_classes = classes;
  o.width = width;
  return o;
}

int64_t Trainable(const torch::nn::AnyModule& m) {
  int64_t n = 0;
  for (const auto& p : m.ptr()->parameters()) {
    if (p.requires_grad()) n += p.numel();
  }
  return n;
}

std::string Identifier(const std::string& family) {
  std::string id;
  for (char c : family) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return id;
}

TEST(LemurCatalogue, HoldsTheTwentyNineFamiliesInByteOrder) {
  ASSERT_EQ(LemurFamilies().size(), kPublished.size());
  for (size_t i = 0; i < kPublished.size(); ++i) EXPECT_EQ(LemurFamilies()[i].id, kPublished[i].family);
}

TEST(LemurCatalogue, DenseNetUsesBottleneckFactorFour) {
  EXPECT_EQ(Trainable(Family("DenseNet").build(Shape(3, 32))), kDenseNetFactor4);
}

class LemurParity : public ::testing::TestWithParam<Published> {};

// Exact: the ports build LEMUR's layers one for one.
TEST_P(LemurParity, ParameterCountsEqualLemurs) {
  const Published& p = GetParam();
  const LemurFamily& family = Family(p.family);
  if (p.rgb32) {
    EXPECT_EQ(Trainable(family.build(Shape(3, 32))), *p.rgb32) << "3x32x32";
  }
  if (p.gray28) {
    EXPECT_EQ(Trainable(family.build(Shape(1, 28))), *p.gray28) << "1x28x28";
  }
}

TEST_P(LemurParity, TrainsAtItsSmallestAcceptedInput) {
  const Published& p = GetParam();
  const int size = MinimumImageSize(Catalogue::kLemur, p.family);
  ASSERT_GT(size, 0) << "no minimum input size recorded for " << p.family;
  torch::manual_seed(0);
  for (int channels : {1, 3}) {
    auto expert = Family(p.family).build(Shape(channels, size, 0.25, 7));
    expert.ptr()->train();
    const auto x = torch::randn({2, channels, size, size});
    const auto logits = expert.forward(x);
    ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 7})) << channels << "x" << size;
    logits.pow(2).mean().backward();
    for (const auto& param : expert.ptr()->parameters()) {
      if (param.grad().defined()) {
        EXPECT_TRUE(torch::isfinite(param.grad()).all().item<bool>()) << channels << "x" << size;
      }
    }
  }
}

// The recorded minimum is tight: one pixel less, LEMUR's network cannot give
// logits (a map shrinks to nothing or a fixed-size layer mismatches).
TEST_P(LemurParity, RefusesOnePixelLessThanItsMinimum) {
  const Published& p = GetParam();
  const int size = MinimumImageSize(Catalogue::kLemur, p.family);
  if (size <= 8) GTEST_SKIP() << p.family << " works down to the registry's floor of 8 pixels";
  EXPECT_ANY_THROW({
    torch::NoGradGuard no_grad;
    auto expert = Family(p.family).build(Shape(3, size - 1, 0.25, 7));
    expert.ptr()->eval();
    expert.forward(torch::randn({2, 3, size - 1, size - 1}));
  }) << p.family << " at " << size - 1;
}

// Where a family has a largest input (BayesianNet-1's fixed-size flatten),
// one pixel more fails too.
TEST_P(LemurParity, RefusesOnePixelMoreThanItsMaximum) {
  const Published& p = GetParam();
  const int size = MaximumImageSize(Catalogue::kLemur, p.family);
  if (size <= 0) GTEST_SKIP() << p.family << " has no largest input";
  auto forward_at = [&](int side) {
    torch::NoGradGuard no_grad;
    auto expert = Family(p.family).build(Shape(3, side, 0.25, 7));
    expert.ptr()->eval();
    return expert.forward(torch::randn({2, 3, side, side}));
  };
  EXPECT_EQ(forward_at(size).sizes(), (std::vector<int64_t>{2, 7}));
  EXPECT_ANY_THROW(forward_at(size + 1)) << p.family << " at " << size + 1;
}

INSTANTIATE_TEST_SUITE_P(All, LemurParity, ::testing::ValuesIn(kPublished),
                         [](const auto& info) { return Identifier(info.param.family); });

}  // namespace
}  // namespace moe4::worker::lemur
