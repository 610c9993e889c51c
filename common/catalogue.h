// The family catalogue: the 29 architecture-family ids of shared/FAMILIES.md.
//
// The ids are spelled exactly as in the catalogue and kept in byte order (what
// std::sort on std::string gives), which is the order the lexicographic sampler
// and the combination ranks are defined over. Immutable; safe for concurrent use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace moe4 {

// All catalogue ids, in byte order. C(29, 4) = 23,751.
const std::vector<std::string>& FamilyCatalogue();

bool IsKnownFamily(std::string_view id);

// The catalogue id closest to `id` (case-insensitive edit distance), for
// "did you mean" hints; empty when nothing is close enough to be a typo.
std::string SuggestFamily(std::string_view id);

// The closest of `candidates` to `word` by case-insensitive edit distance, or
// empty when the best is further than a third of the word's length (plus one).
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace moe4
