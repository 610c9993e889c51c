#include "common/combinatorics.h"

#include <gtest/gtest.h>

namespace moe4 {
namespace {

TEST(BinomialTest, KnownValues) {
  EXPECT_EQ(Binomial(29, 4), 23751u);
  EXPECT_EQ(Binomial(28, 3), 3276u);
  EXPECT_EQ(Binomial(100, 8), 186087894300u);
  EXPECT_EQ(Binomial(5, 0), 1u);
  EXPECT_EQ(Binomial(5, 5), 1u);
  EXPECT_EQ(Binomial(3, 4), 0u);
  EXPECT_EQ(Binomial(3, -1), 0u);
  EXPECT_EQ(Binomial(200, 100), kBinomialOverflow);
}

// Table-driven against the order of Python's itertools.combinations.
TEST(RankTest, LexicographicOrderMatchesItertools) {
  // itertools.combinations(range(5), 3):
  const std::vector<std::vector<int>> expected = {{0, 1, 2}, {0, 1, 3}, {0, 1, 4}, {0, 2, 3}, {0, 2, 4},
                                                  {0, 3, 4}, {1, 2, 3}, {1, 2, 4}, {1, 3, 4}, {2, 3, 4}};
  for (size_t rank = 0; rank < expected.size(); ++rank) {
    EXPECT_EQ(UnrankCombination(rank, 5, 3), expected[rank]) << "rank " << rank;
    EXPECT_EQ(RankCombination(expected[rank], 5), rank);
  }
}

TEST(RankTest, PublishedBiasBoundary) {
  // With 29 families and K=4, ranks 0..3275 all start with family 0 (AirNet);
  // rank 3276 is the first without it.
  EXPECT_EQ(UnrankCombination(3275, 29, 4)[0], 0);
  EXPECT_EQ(UnrankCombination(3276, 29, 4), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(UnrankCombination(23750, 29, 4), (std::vector<int>{25, 26, 27, 28}));
}

}  // namespace
}  // namespace moe4
