// Samplers: which B of the C(N, K) family combinations a campaign evaluates.
//
// Every sampler is a pure, deterministic function of (kind, N, K, B, seed), so a
// campaign's candidates can be recomputed at any time and a coordinator restart
// changes nothing. Results are combination ranks (see combinatorics.h) in the
// order the jobs should run. Safe for concurrent use.
//
//   lexicographic  ranks 0..B-1: itertools.combinations order truncated at the
//                  budget. Kept only to reproduce the published bias (the first
//                  C(N-1,K-1) candidates all contain the first family).
//   uniform        B distinct ranks uniformly at random, without replacement,
//                  in random order (Floyd's algorithm; never enumerates C).
//   stratified     every family in floor(B*K/N) or ceil(B*K/N) candidates
//                  (guaranteed), pair co-occurrence as even as a greedy makes
//                  it, no duplicates. Prefixes of the list are nearly
//                  balanced too, so a campaign cut short stays fair. The
//                  default. See sampling.cc for the algorithm and its proof.
//   exhaustive     all C(N, K) ranks in seeded random order. B must equal
//                  C(N,K) (the spec parser turns an omitted budget into it);
//                  refused when C(N,K) > 10,000,000.
//
// Random streams, bounded draws and shuffles are implemented in sampling.cc,
// not taken from <random>, so results do not depend on the standard library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace moe4 {

enum class SamplerKind { kLexicographic, kUniform, kStratified, kExhaustive };

// "lexicographic" | "uniform" | "stratified" | "exhaustive".
absl::StatusOr<SamplerKind> ParseSamplerKind(std::string_view name);
std::string_view SamplerName(SamplerKind kind);

// Draws the candidates. InvalidArgument, naming the field, when K < 1, K > N,
// budget < 1, budget > C(N, K), C(N, K) does not fit in 64 bits, exhaustive
// with budget != C(N, K) or C(N, K) > 10,000,000, and, as memory guards far
// above the spec's limits, budget > 10,000,000 or N > 1024. For example
//   "k: 5 is larger than the pool (3 families)"
//   "budget: 30000 exceeds C(29,4) = 23751 combinations"
// Stratified takes under 1 us a candidate at N=100, K=8 (bench/sampler_bench).
absl::StatusOr<std::vector<uint64_t>> SampleCombinationRanks(SamplerKind kind, int n, int k,
                                                             uint64_t budget, uint64_t seed);

// How evenly a set of candidates covers the pool.
struct FamilyCoverage {
  int count = 0;             // candidates containing the family
  double share = 0;          // count / candidates
  bool anchor = false;       // share > 2K/N: the family dominates the search
};
struct CoverageReport {
  int candidates = 0;
  double ideal_share = 0;            // K / N
  std::vector<FamilyCoverage> families;  // indexed like the pool
  double max_min_ratio = 0;          // max count / min count (inf when a family is absent)
  uint64_t pairs_covered = 0;        // distinct family pairs that co-occur at least once
  uint64_t pairs_total = 0;          // C(N, 2)
  int anchors = 0;
};

// Coverage of candidates given as index vectors into a pool of n (indices
// outside [0, n) are ignored). An empty list has ratio infinity.
CoverageReport ComputeCoverage(const std::vector<std::vector<int>>& combinations, int n, int k);

}  // namespace moe4
