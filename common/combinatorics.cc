#include "common/combinatorics.h"

#include <cassert>

namespace moe4 {

uint64_t Binomial(int n, int k) {
  if (k < 0 || n < 0 || k > n) return 0;
  if (k > n - k) k = n - k;
  // C(n, i) = C(n, i-1) * (n-k+i) / i stays integral at every step; the
  // 128-bit product keeps the intermediate exact until the result overflows.
  unsigned __int128 result = 1;
  for (int i = 1; i <= k; ++i) {
    result = result * static_cast<unsigned>(n - k + i) / static_cast<unsigned>(i);
    if (result > UINT64_MAX) return kBinomialOverflow;
  }
  return static_cast<uint64_t>(result);
}

uint64_t RankCombination(const std::vector<int>& combination, int n) {
  // Lexicographic rank: for each position, count the combinations that start
  // with the same prefix but a smaller element there.
  const int k = static_cast<int>(combination.size());
  uint64_t rank = 0;
  int previous = -1;
  for (int i = 0; i < k; ++i) {
    for (int v = previous + 1; v < combination[i]; ++v) {
      rank += Binomial(n - 1 - v, k - 1 - i);
    }
    previous = combination[i];
  }
  return rank;
}

std::vector<int> UnrankCombination(uint64_t rank, int n, int k) {
  std::vector<int> combination;
  combination.reserve(k);
  int v = 0;
  for (int i = 0; i < k; ++i) {
    // Skip whole blocks of combinations whose i-th element is v.
    for (;; ++v) {
      const uint64_t block = Binomial(n - 1 - v, k - 1 - i);
      if (rank < block) break;
      rank -= block;
    }
    combination.push_back(v);
    ++v;
  }
  assert(v <= n);
  return combination;
}

}  // namespace moe4
