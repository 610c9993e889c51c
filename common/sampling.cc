// Samplers over the combinatorial number system; see sampling.h.
//
// Portable determinism: the random stream (SplitMix64), bounded draws
// (Lemire's method) and the shuffle (Fisher-Yates) are written out here rather
// than taken from <random> and <algorithm>, whose distributions and
// std::shuffle differ between standard libraries. A campaign's candidates must
// not change when the coordinator is rebuilt with another toolchain.
//
// The stratified sampler (the default) is a greedy with a repair pass:
//
//  1. Greedy. Each new candidate takes the K least-used families: whole count
//     levels while they fit, and from the level that does not fit, one family at
//     a time with the smallest pair co-occurrence with those already taken, ties
//     broken by a seeded random key. Taking the K least-used keeps every
//     family's count within one of every other's after every candidate, so
//     each prefix of the list is balanced too, not only the whole, except just
//     after a duplicate the greedy could not avoid (below), where one family
//     runs two ahead until the greedy closes the gap.
//  2. Duplicates. A rank already drawn is retried with pair scores off (fresh
//     random ties); then the least unbalancing single-family swap that gives a
//     new rank; then, as a last resort, a uniformly random unused rank. Only
//     the last two can unbalance the counts. When the K least-used families
//     are exactly one count level and already a candidate, no balanced choice
//     exists; at N=29, K=4 this touches 14 of 22,800 prefixes at B=1,140
//     (20 seeds), and practically never at N=100, K=8.
//  3. Repair. While max count - min count > 1, take a = the most used family,
//     b = the least used, and replace some candidate S that holds a but not b by
//     S - a + b. Such an S whose replacement is new always exists: S -> S-a+b
//     maps the candidates holding a but not b (count(a) - pair(a,b) of them)
//     one-to-one onto combinations holding b but not a, of which only
//     count(b) - pair(a,b) < count(a) - pair(a,b) are candidates already. Each
//     move lowers the sum of squared counts, so the loop ends, with every count
//     in floor(B*K/N) or ceil(B*K/N). This is a guarantee for every input, not
//     only for the cases the tests cover.
//  4. Complement. When B > C(N,K)/2, duplicates would be the rule rather than
//     the exception, so the sampler draws a balanced set of the C - B
//     combinations to leave out and returns the others in seeded random order
//     (so there the whole list is balanced, but its prefixes only as well as a
//     random order makes them).
//     Every family is in exactly C(N-1,K-1) = C*K/N combinations in all, so the
//     complement of a floor/ceil-balanced set is floor/ceil-balanced.
//
// Pair co-occurrence is only as even as the greedy makes it; it is a heuristic
// with measured figures (tests/common/sampling_test.cc), not a guarantee.
#include "common/sampling.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/combinatorics.h"

namespace moe4 {
namespace {

// Memory guards, far above the campaign spec's own limits: the result is a
// vector of B ranks plus a hash set of them, and the stratified sampler keeps
// an N x N pair table.
constexpr uint64_t kMaxBudget = 10'000'000;
constexpr int kMaxPool = 1024;

// Greedy tries per candidate before the swap fallback.
constexpr int kGreedyAttempts = 4;

// Independent streams per use of the seed.
constexpr uint64_t kUniformStream = 0x756e69666f726d31ULL;
constexpr uint64_t kStratifiedStream = 0x7374726174696631ULL;
constexpr uint64_t kExhaustiveStream = 0x6578686175737431ULL;
constexpr uint64_t kComplementStream = 0x636f6d706c656d31ULL;

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast and fully specified.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) : state_(seed ^ stream) { Next(); }

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound) without modulo bias (Lemire 2019). bound > 0.
  uint64_t Below(uint64_t bound) {
    unsigned __int128 m = static_cast<unsigned __int128>(Next()) * bound;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < bound) {
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(Next()) * bound;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  uint64_t state_;
};

void Shuffle(std::vector<uint64_t>& values, Rng& rng) {
  for (size_t i = values.size(); i > 1; --i) {
    std::swap(values[i - 1], values[rng.Below(i)]);
  }
}

std::string BinomialText(int n, int k, uint64_t total) { return absl::StrCat("C(", n, ",", k, ") = ", total); }

// C(n, k) when (n, k, budget) is a request the samplers can serve.
absl::StatusOr<uint64_t> Validate(SamplerKind kind, int n, int k, uint64_t budget) {
  if (k < 1) return absl::InvalidArgumentError("k: must be at least 1");
  if (k > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("k: ", k, " is larger than the pool (", n, n == 1 ? " family)" : " families)"));
  }
  if (n > kMaxPool) {
    return absl::InvalidArgumentError(
        absl::StrCat("families: a pool of ", n, " families exceeds the sampler's limit of ", kMaxPool));
  }
  const uint64_t total = Binomial(n, k);
  if (total == kBinomialOverflow) {
    return absl::InvalidArgumentError(absl::StrCat("k: C(", n, ",", k, ") combinations do not fit in 64 bits"));
  }
  if (kind == SamplerKind::kExhaustive && total > kMaxBudget) {
    return absl::InvalidArgumentError(absl::StrCat("sampler: exhaustive would create ", BinomialText(n, k, total),
                                                   " candidates, more than the limit of ", kMaxBudget,
                                                   "; use stratified or uniform with a budget"));
  }
  if (budget < 1) return absl::InvalidArgumentError("budget: must be at least 1");
  if (budget > total) {
    return absl::InvalidArgumentError(
        absl::StrCat("budget: ", budget, " exceeds ", BinomialText(n, k, total), " combinations"));
  }
  if (budget > kMaxBudget) {
    return absl::InvalidArgumentError(
        absl::StrCat("budget: ", budget, " exceeds the sampler's limit of ", kMaxBudget, " candidates"));
  }
  if (kind == SamplerKind::kExhaustive && budget != total) {
    return absl::InvalidArgumentError(
        absl::StrCat("budget: exhaustive needs all ", BinomialText(n, k, total), " combinations, got ", budget));
  }
  return total;
}

// A set of ranks: open addressing with linear probing, at most half full.
// std::unordered_set allocates a node per rank and costs two cache misses a
// lookup, a third of the stratified sampler's time at a million candidates.
class RankSet {
 public:
  // Room for `size` ranks.
  explicit RankSet(uint64_t size) {
    int bits = 4;
    while ((uint64_t{1} << bits) < 2 * size) ++bits;
    slots_.assign(uint64_t{1} << bits, kEmpty);
    mask_ = slots_.size() - 1;
    shift_ = 64 - bits;
  }

  bool Contains(uint64_t rank) const {
    for (uint64_t i = Home(rank);; i = (i + 1) & mask_) {
      if (slots_[i] == rank) return true;
      if (slots_[i] == kEmpty) return false;
    }
  }

  void Prefetch(uint64_t rank) const { __builtin_prefetch(&slots_[Home(rank)]); }

  // False when already present.
  bool Insert(uint64_t rank) {
    for (uint64_t i = Home(rank);; i = (i + 1) & mask_) {
      if (slots_[i] == rank) return false;
      if (slots_[i] == kEmpty) {
        slots_[i] = rank;
        return true;
      }
    }
  }

  // Backward-shift deletion: no tombstones, so the table never silts up.
  void Erase(uint64_t rank) {
    uint64_t hole = Home(rank);
    while (slots_[hole] != rank) {
      if (slots_[hole] == kEmpty) return;
      hole = (hole + 1) & mask_;
    }
    for (uint64_t j = (hole + 1) & mask_; slots_[j] != kEmpty; j = (j + 1) & mask_) {
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      const uint64_t home = Home(slots_[j]);
      const bool stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!stays) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = kEmpty;
  }

 private:
  // Ranks are below C(N,K) < kBinomialOverflow, so this is never a rank.
  static constexpr uint64_t kEmpty = std::numeric_limits<uint64_t>::max();

  uint64_t Home(uint64_t rank) const { return (rank * 0x9e3779b97f4a7c15ULL) >> shift_; }

  std::vector<uint64_t> slots_;
  uint64_t mask_;
  int shift_;
};

std::vector<uint64_t> SampleUniform(uint64_t total, uint64_t budget, uint64_t seed) {
  // Floyd's algorithm: B draws whatever B/C is, and never enumerates C.
  Rng rng(seed, kUniformStream);
  RankSet seen(budget);
  std::vector<uint64_t> ranks;
  ranks.reserve(budget);
  for (uint64_t j = total - budget; j < total; ++j) {
    uint64_t pick = rng.Below(j + 1);
    if (!seen.Insert(pick)) {
      pick = j;  // larger than every earlier pick, so new
      seen.Insert(pick);
    }
    ranks.push_back(pick);
  }
  // Floyd's selection is uniform as a set, not in its order.
  Shuffle(ranks, rng);
  return ranks;
}

std::vector<uint64_t> SampleExhaustive(uint64_t total, uint64_t seed) {
  Rng rng(seed, kExhaustiveStream);
  std::vector<uint64_t> ranks(total);
  std::iota(ranks.begin(), ranks.end(), uint64_t{0});
  Shuffle(ranks, rng);
  return ranks;
}

// The greedy + repair of the file comment, for budgets up to about C/2.
// Holds O(N^2 + B*K) state; one instance draws one list.
class BalancedDraw {
 public:
  BalancedDraw(int n, int k, uint64_t total, uint64_t budget, uint64_t seed)
      : n_(n),
        k_(k),
        total_(total),
        budget_(budget),
        rng_(seed, kStratifiedStream),
        binomial_(static_cast<size_t>(n) * (k + 1)),
        count_(n, 0),
        order_(n),
        position_(n),
        pair_(static_cast<size_t>(n) * n, 0),
        seen_(budget) {
    for (int m = 0; m < n; ++m) {
      for (int j = 0; j <= k; ++j) binomial_[m * (k + 1) + j] = Binomial(m, j);
    }
    std::iota(order_.begin(), order_.end(), 0);
    std::iota(position_.begin(), position_.end(), 0);
  }

  std::vector<uint64_t> Draw() {
    ranks_.reserve(budget_);
    combos_.reserve(budget_ * k_);
    for (uint64_t i = 0; i < budget_; ++i) {
      PickGreedy(/*use_pairs=*/true);
      rank_ = Rank(pick_.data());
      // The lookup is a cache miss at large budgets; tallying first overlaps
      // it, and a duplicate (rare where the table is large) is untallied.
      seen_.Prefetch(rank_);
      Tally(+1);
      if (!seen_.Insert(rank_)) {
        Tally(-1);
        if (!PickAfterDuplicate()) PickUnused();
        Tally(+1);
        seen_.Insert(rank_);
      }
      ranks_.push_back(rank_);
      combos_.insert(combos_.end(), pick_.begin(), pick_.end());
    }
    Repair();
    return std::move(ranks_);
  }

 private:
  // Lexicographic rank, as RankCombination computes it, from a table: the
  // stratified hot loop ranks every candidate it considers.
  uint64_t Rank(const int* sorted) const {
    uint64_t below = 0;
    for (int i = 0; i < k_; ++i) below += binomial_[(n_ - 1 - sorted[i]) * (k_ + 1) + (k_ - i)];
    return total_ - 1 - below;
  }

  // After the greedy drew a duplicate: retries with fresh random ties and no
  // pair scores, then single swaps. True with a new combination in pick_ and
  // rank_.
  bool PickAfterDuplicate() {
    for (int attempt = 1; attempt < kGreedyAttempts; ++attempt) {
      PickGreedy(/*use_pairs=*/false);
      rank_ = Rank(pick_.data());
      if (!seen_.Contains(rank_)) return true;
    }
    return PickBySwap();
  }

  // order_[from..] holds families by ascending count; the end of the run of
  // families whose count is `level`.
  int LevelEnd(int from, int64_t level) const {
    int lo = from, hi = n_;
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (count_[order_[mid]] <= level) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  void PickGreedy(bool use_pairs) {
    pick_.clear();
    int begin = 0;
    while (true) {
      const int end = LevelEnd(begin, count_[order_[begin]]);
      const int wanted = k_ - static_cast<int>(pick_.size());
      if (end - begin > wanted) {
        ChooseFromLevel(begin, end, wanted, use_pairs);
        break;
      }
      pick_.insert(pick_.end(), order_.begin() + begin, order_.begin() + end);
      if (end - begin == wanted) break;
      begin = end;
    }
    std::sort(pick_.begin(), pick_.end());
  }

  // Takes `wanted` of the families order_[begin, end) (one count level): least
  // pair co-occurrence with pick_ first, then a random key. A score is the
  // pair sum above a 24-bit key; pair sums stay below 2^40 (K <= 1024 pair
  // counts, each at most kMaxBudget < 2^24).
  void ChooseFromLevel(int begin, int end, int wanted, bool use_pairs) {
    size_t m = end - begin;
    level_.assign(order_.begin() + begin, order_.begin() + end);
    score_.resize(m);
    for (size_t i = 0; i < m; i += 2) {
      const uint64_t r = rng_.Next();
      score_[i] = r & 0xffffff;
      if (i + 1 < m) score_[i + 1] = (r >> 32) & 0xffffff;
    }
    if (use_pairs) {
      for (int c : pick_) AddPairs(c, m);
    }
    size_t best = ArgMin(m);
    for (int t = 0;; ++t) {
      const int family = level_[best];
      pick_.push_back(family);
      if (t + 1 == wanted) break;
      --m;
      score_[best] = score_[m];
      level_[best] = level_[m];
      best = use_pairs ? AddPairsArgMin(family, m) : ArgMin(m);
    }
  }

  // The sampler's hot loops, branch-free; ties go to the lower index.
  size_t ArgMin(size_t m) const {
    size_t best = 0;
    uint64_t low = score_[0];
    for (size_t i = 1; i < m; ++i) {
      const bool lower = score_[i] < low;
      low = lower ? score_[i] : low;
      best = lower ? i : best;
    }
    return best;
  }

  void AddPairs(int family, size_t m) {
    const uint32_t* row = &pair_[static_cast<size_t>(family) * n_];
    for (size_t i = 0; i < m; ++i) score_[i] += static_cast<uint64_t>(row[level_[i]]) << 24;
  }

  // AddPairs then ArgMin, in one pass.
  size_t AddPairsArgMin(int family, size_t m) {
    const uint32_t* row = &pair_[static_cast<size_t>(family) * n_];
    size_t best = 0;
    uint64_t low = std::numeric_limits<uint64_t>::max();
    for (size_t i = 0; i < m; ++i) {
      const uint64_t score = score_[i] + (static_cast<uint64_t>(row[level_[i]]) << 24);
      score_[i] = score;
      const bool lower = score < low;
      low = lower ? score : low;
      best = lower ? i : best;
    }
    return best;
  }

  // Every single-family swap of the duplicate in pick_, least unbalancing
  // first; true with the first new one in pick_.
  bool PickBySwap() {
    const std::vector<int> base = pick_;
    std::vector<char> in_base(n_, 0);
    for (int f : base) in_base[f] = 1;
    std::vector<std::pair<int64_t, std::pair<int, int>>> swaps;  // (imbalance, (slot, family))
    for (int i = 0; i < k_; ++i) {
      for (int y = 0; y < n_; ++y) {
        if (!in_base[y]) swaps.push_back({count_[y] - count_[base[i]], {i, y}});
      }
    }
    std::stable_sort(swaps.begin(), swaps.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [imbalance, swap] : swaps) {
      pick_ = base;
      pick_[swap.first] = swap.second;
      std::sort(pick_.begin(), pick_.end());
      rank_ = Rank(pick_.data());
      if (!seen_.Contains(rank_)) return true;
    }
    return false;
  }

  // At most half of all ranks are taken (see SampleStratified), so this
  // expects at most two draws.
  void PickUnused() {
    do {
      rank_ = rng_.Below(total_);
    } while (seen_.Contains(rank_));
    pick_ = UnrankCombination(rank_, n_, k_);
  }

  // Adds (+1) or removes (-1) pick_'s family and pair counts.
  void Tally(int sign) {
    for (int i = 0; i < k_; ++i) {
      const int a = pick_[i];
      if (sign > 0) {
        Increment(a);
      } else {
        Decrement(a);
      }
      for (int j = i + 1; j < k_; ++j) {
        const int b = pick_[j];
        uint32_t& ab = pair_[static_cast<size_t>(a) * n_ + b];
        uint32_t& ba = pair_[static_cast<size_t>(b) * n_ + a];
        ab = sign > 0 ? ab + 1 : ab - 1;
        ba = ab;
      }
    }
  }

  // Both keep order_ sorted: the family swaps places with the last (first)
  // one of its count level, which then ends one place earlier (later).
  void Increment(int family) {
    SwapInOrder(family, LevelEnd(0, count_[family]) - 1);
    ++count_[family];
  }
  void Decrement(int family) {
    SwapInOrder(family, LevelEnd(0, count_[family] - 1));
    --count_[family];
  }
  void SwapInOrder(int family, int slot) {
    const int other = order_[slot];
    std::swap(order_[position_[family]], order_[slot]);
    std::swap(position_[family], position_[other]);
  }

  // Step 3 of the file comment. Works from the end of the list, so that the
  // balanced prefixes of the greedy survive where they can. Leaves order_ and
  // pair_ stale: nothing is drawn after it.
  void Repair() {
    std::vector<int> trial(k_);
    while (true) {
      const auto [min_it, max_it] = std::minmax_element(count_.begin(), count_.end());
      if (*max_it - *min_it <= 1) return;
      const int a = static_cast<int>(max_it - count_.begin());
      const int b = static_cast<int>(min_it - count_.begin());
      bool moved = false;
      for (size_t idx = ranks_.size(); idx-- > 0 && !moved;) {
        uint16_t* combo = &combos_[idx * k_];
        int at = -1;
        bool has_b = false;
        for (int i = 0; i < k_; ++i) {
          if (combo[i] == a) at = i;
          if (combo[i] == b) has_b = true;
        }
        if (at < 0 || has_b) continue;
        for (int i = 0; i < k_; ++i) trial[i] = i == at ? b : combo[i];
        std::sort(trial.begin(), trial.end());
        const uint64_t rank = Rank(trial.data());
        if (seen_.Contains(rank)) continue;
        seen_.Erase(ranks_[idx]);
        seen_.Insert(rank);
        ranks_[idx] = rank;
        for (int i = 0; i < k_; ++i) combo[i] = static_cast<uint16_t>(trial[i]);
        --count_[a];
        ++count_[b];
        moved = true;
      }
      // Unreachable by the counting argument above; never loop forever on a bug.
      if (!moved) return;
    }
  }

  const int n_;
  const int k_;
  const uint64_t total_;
  const uint64_t budget_;
  Rng rng_;
  std::vector<uint64_t> binomial_;  // C(m, j) at m * (k + 1) + j, m < n
  std::vector<int64_t> count_;      // candidates holding each family
  std::vector<int> order_;          // families by ascending count
  std::vector<int> position_;       // of each family in order_
  std::vector<uint32_t> pair_;      // n x n co-occurrence counts
  RankSet seen_;
  std::vector<uint64_t> ranks_;   // the list so far, in order
  std::vector<uint16_t> combos_;  // k entries per element of ranks_
  // The combination being built, and per-pick scratch.
  std::vector<int> pick_;
  uint64_t rank_ = 0;
  std::vector<int> level_;
  std::vector<uint64_t> score_;
};

std::vector<uint64_t> SampleStratified(int n, int k, uint64_t total, uint64_t budget, uint64_t seed) {
  if (budget <= total - budget) return BalancedDraw(n, k, total, budget, seed).Draw();
  // Step 4: total <= 2 * budget, so enumerating it is bounded by the output.
  std::vector<char> left_out(total, 0);
  for (uint64_t rank : BalancedDraw(n, k, total, total - budget, seed).Draw()) left_out[rank] = 1;
  std::vector<uint64_t> ranks;
  ranks.reserve(budget);
  for (uint64_t rank = 0; rank < total; ++rank) {
    if (!left_out[rank]) ranks.push_back(rank);
  }
  Rng rng(seed, kComplementStream);
  Shuffle(ranks, rng);
  return ranks;
}

}  // namespace

absl::StatusOr<SamplerKind> ParseSamplerKind(std::string_view name) {
  for (SamplerKind kind :
       {SamplerKind::kLexicographic, SamplerKind::kUniform, SamplerKind::kStratified, SamplerKind::kExhaustive}) {
    if (name == SamplerName(kind)) return kind;
  }
  constexpr size_t kMaxEcho = 64;
  const std::string_view echo = name.substr(0, kMaxEcho);
  return absl::InvalidArgumentError(absl::StrCat(
      "sampler: unknown sampler \"", absl::CHexEscape(absl::string_view(echo.data(), echo.size())),
      name.size() > kMaxEcho ? "..." : "", "\" (expected lexicographic, uniform, stratified or exhaustive)"));
}

std::string_view SamplerName(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::kLexicographic:
      return "lexicographic";
    case SamplerKind::kUniform:
      return "uniform";
    case SamplerKind::kStratified:
      return "stratified";
    case SamplerKind::kExhaustive:
      return "exhaustive";
  }
  return "unknown";
}

absl::StatusOr<std::vector<uint64_t>> SampleCombinationRanks(SamplerKind kind, int n, int k, uint64_t budget,
                                                             uint64_t seed) {
  const absl::StatusOr<uint64_t> total = Validate(kind, n, k, budget);
  if (!total.ok()) return total.status();
  switch (kind) {
    case SamplerKind::kLexicographic: {
      std::vector<uint64_t> ranks(budget);
      std::iota(ranks.begin(), ranks.end(), uint64_t{0});
      return ranks;
    }
    case SamplerKind::kUniform:
      return SampleUniform(*total, budget, seed);
    case SamplerKind::kStratified:
      return SampleStratified(n, k, *total, budget, seed);
    case SamplerKind::kExhaustive:
      return SampleExhaustive(*total, seed);
  }
  return absl::InvalidArgumentError("sampler: unknown sampler kind");
}

CoverageReport ComputeCoverage(const std::vector<std::vector<int>>& combinations, int n, int k) {
  CoverageReport report;
  if (n < 1) return report;
  const int64_t candidates = static_cast<int64_t>(combinations.size());
  report.candidates = static_cast<int>(candidates);
  report.ideal_share = static_cast<double>(k) / n;
  report.families.resize(n);
  report.pairs_total = Binomial(n, 2);
  std::vector<char> pair_seen(static_cast<size_t>(n) * n, 0);
  for (const std::vector<int>& combination : combinations) {
    for (size_t i = 0; i < combination.size(); ++i) {
      const int a = combination[i];
      if (a < 0 || a >= n) continue;
      ++report.families[a].count;
      for (size_t j = i + 1; j < combination.size(); ++j) {
        const int b = combination[j];
        if (b < 0 || b >= n || b == a) continue;
        char& seen = pair_seen[static_cast<size_t>(std::min(a, b)) * n + std::max(a, b)];
        if (!seen) {
          seen = 1;
          ++report.pairs_covered;
        }
      }
    }
  }
  int min_count = std::numeric_limits<int>::max();
  int max_count = 0;
  for (FamilyCoverage& family : report.families) {
    family.share = candidates > 0 ? static_cast<double>(family.count) / candidates : 0;
    // share > 2K/N, in integers so that a share of exactly 2K/N is no anchor.
    family.anchor = static_cast<int64_t>(family.count) * n > 2 * static_cast<int64_t>(k) * candidates;
    report.anchors += family.anchor;
    min_count = std::min(min_count, family.count);
    max_count = std::max(max_count, family.count);
  }
  report.max_min_ratio =
      min_count == 0 ? std::numeric_limits<double>::infinity() : static_cast<double>(max_count) / min_count;
  return report;
}

}  // namespace moe4
