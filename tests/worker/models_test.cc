// Every registered family at 28x28x1 and 32x32x3: output shape, finite loss,
// finite gradients that reach the first layer.
#include <gtest/gtest.h>

#include <tuple>

#include "worker/models/layers.h"
#include "worker/models/registry.h"

namespace moe4::worker {
namespace {

struct Shape {
  int channels;
  int size;
};

void PrintTo(const Shape& s, std::ostream* os) { *os << s.channels << "x" << s.size << "x" << s.size; }

class FamilyTest : public ::testing::TestWithParam<std::tuple<std::string, Shape>> {};

TEST_P(FamilyTest, ForwardBackwardShapeAndFiniteness) {
  const auto& [family, shape] = GetParam();
  torch::manual_seed(0);
  ExpertOptions options;
  options.in_channels = shape.channels;
  options.image_size = shape.size;
  options.num_classes = 7;  // any class count
  options.width = 0.125;
  auto expert = BuiltinRegistry().Create(family, options);
  expert.ptr()->train();
  auto x = torch::randn({3, shape.channels, shape.size, shape.size});
  auto logits = expert.forward(x);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{3, 7}));
  auto loss = torch::cross_entropy_loss(logits, torch::tensor({0, 3, 6}, torch::kLong));
  ASSERT_TRUE(std::isfinite(loss.item<double>()));
  loss.backward();
  int with_grad = 0;
  for (const auto& p : expert.ptr()->parameters()) {
    if (!p.grad().defined()) continue;
    ASSERT_TRUE(torch::isfinite(p.grad()).all().item<bool>()) << family;
    if (p.grad().abs().sum().item<double>() > 0) ++with_grad;
  }
  EXPECT_GT(with_grad, 0);
  // Eval mode (running BN statistics, no dropout) works too.
  expert.ptr()->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(expert.forward(torch::randn({1, shape.channels, shape.size, shape.size})).size(1), 7);
}

std::string Name(const ::testing::TestParamInfo<FamilyTest::ParamType>& info) {
  const auto& [family, shape] = info.param;
  std::string id;
  for (char c : family) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return id + "_" + std::to_string(shape.size) + "x" + std::to_string(shape.size) + "x" +
         std::to_string(shape.channels);
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, FamilyTest,
                         ::testing::Combine(::testing::ValuesIn(BuiltinRegistry().Ids()),
                                            ::testing::Values(Shape{1, 28}, Shape{3, 32})),
                         Name);

TEST(RegistryTest, ImplementsTheEightPublishedFamilies) {
  for (const char* id :
       {"AirNet", "AlexNet", "BagNet", "DenseNet", "FractalNet", "MNASNet", "MobileNetV3", "ShuffleNet"}) {
    EXPECT_TRUE(BuiltinRegistry().Contains(id)) << id;
  }
}

TEST(RegistryTest, UnknownFamilyAndBadOptionsAreClearErrors) {
  ExpertOptions options;
  try {
    BuiltinRegistry().Create("NoSuchNet", options);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown family 'NoSuchNet'"), std::string::npos);
  }
  options.num_classes = 1;
  EXPECT_THROW(BuiltinRegistry().Create("AirNet", options), std::invalid_argument);
}

TEST(RegistryTest, WidthMultiplierScalesParameters) {
  ExpertOptions narrow;
  narrow.width = 0.25;
  ExpertOptions wide = narrow;
  wide.width = 0.5;
  auto count = [](const torch::nn::AnyModule& m) {
    int64_t n = 0;
    for (const auto& p : m.ptr()->parameters()) n += p.numel();
    return n;
  };
  EXPECT_GT(count(BuiltinRegistry().Create("AirNet", wide)), 2 * count(BuiltinRegistry().Create("AirNet", narrow)));
}

TEST(DownsamplePlanTest, KeepsTheLastMapAtLeastTwoPixels) {
  DownsamplePlan small(28, 5);  // floor(log2(14)) = 3 of 5 events kept, earliest dropped
  EXPECT_FALSE(small.Next());
  EXPECT_FALSE(small.Next());
  EXPECT_TRUE(small.Next());
  EXPECT_TRUE(small.Next());
  EXPECT_TRUE(small.Next());
  EXPECT_EQ(small.size(), 4);  // 28 -> 14 -> 7 -> 4
  DownsamplePlan large(224, 5);
  int kept = 0;
  for (int i = 0; i < 5; ++i) kept += large.Next() ? 1 : 0;
  EXPECT_EQ(kept, 5);
  EXPECT_EQ(large.size(), 7);
}

TEST(ScaleChannelsTest, RoundsToDivisor) {
  EXPECT_EQ(ScaleChannels(64, 1.0), 64);
  EXPECT_EQ(ScaleChannels(64, 0.25), 16);
  EXPECT_EQ(ScaleChannels(64, 0.01), 8);  // floor
  EXPECT_EQ(ScaleChannels(116, 0.5, 4, 4), 60);
}

}  // namespace
}  // namespace moe4::worker
