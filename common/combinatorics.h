// Combination maths over the combinatorial number system.
//
// A combination is a strictly increasing vector of K indices into a pool of N
// items. Its rank is its position in lexicographic order (the order of Python's
// itertools.combinations over the pool), so rank 0 is {0, 1, ..., K-1}. A
// combination is therefore one integer, and no code needs to enumerate C(N, K).
// Pure functions; safe for concurrent use.
#pragma once

#include <cstdint>
#include <vector>

namespace moe4 {

// Saturating value returned by Binomial when C(n, k) does not fit in 64 bits.
inline constexpr uint64_t kBinomialOverflow = UINT64_MAX;

// C(n, k); 0 when k < 0 or k > n; kBinomialOverflow when it exceeds uint64.
uint64_t Binomial(int n, int k);

// Lexicographic rank of `combination` (strictly increasing indices < n).
// Precondition: the combination is valid and C(n, k) fits in 64 bits.
uint64_t RankCombination(const std::vector<int>& combination, int n);

// Inverse of RankCombination. Precondition: rank < Binomial(n, k).
std::vector<int> UnrankCombination(uint64_t rank, int n, int k);

}  // namespace moe4
