#include "common/catalogue.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/combinatorics.h"

namespace moe4 {
namespace {

TEST(CatalogueTest, HasTheTwentyNineFamiliesInByteOrder) {
  const auto& families = FamilyCatalogue();
  ASSERT_EQ(families.size(), 29u);
  EXPECT_TRUE(std::is_sorted(families.begin(), families.end()));
  EXPECT_EQ(std::adjacent_find(families.begin(), families.end()), families.end());
  EXPECT_EQ(families.front(), "AirNet");
  EXPECT_EQ(families.back(), "VisionTransformer");
  // Byte order, not case-insensitive order: the published campaign's sort.
  EXPECT_LT(std::find(families.begin(), families.end(), "DPN107"), std::find(families.begin(), families.end(), "DarkNet"));
  EXPECT_LT(std::find(families.begin(), families.end(), "MNASNet"), std::find(families.begin(), families.end(), "MaxVit"));
  EXPECT_EQ(Binomial(static_cast<int>(families.size()), 4), 23751u);
}

TEST(CatalogueTest, KnowsExactIdsOnly) {
  EXPECT_TRUE(IsKnownFamily("ResNet"));
  EXPECT_TRUE(IsKnownFamily("BayesianNet-1"));
  EXPECT_FALSE(IsKnownFamily("Resnet"));
  EXPECT_FALSE(IsKnownFamily(""));
}

TEST(CatalogueTest, SuggestsTheClosestIdForTypos) {
  EXPECT_EQ(SuggestFamily("Resnet"), "ResNet");
  EXPECT_EQ(SuggestFamily("mobilenetv3"), "MobileNetV3");
  EXPECT_EQ(SuggestFamily("SqueezeNet"), "SqueezeNet-1");
  EXPECT_EQ(SuggestFamily("TotallyDifferentThing"), "");
}

}  // namespace
}  // namespace moe4
