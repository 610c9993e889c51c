// Duplicate mapping keys in a parsed YAML document. yaml-cpp keeps every
// entry of a mapping but `node["key"]` answers with the first, so a spec that
// says `name:` twice would silently lose one of them; both spec parsers (the
// campaign spec in common/, moe4-train's job spec in worker/train/) refuse
// such a document with the field and both line numbers.
// Pure; safe for concurrent use.
#pragma once

#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace moe4 {

struct DuplicateKey {
  std::string field;    // dotted path of the repeated key, e.g. "recipe.lr", "name"
  int first_line = 0;   // 1-based line of the first occurrence
  int second_line = 0;  // 1-based line of the repetition
};

// Every repeated key in every mapping under `root` (depth first, document
// order). Aliased subtrees are walked once, so a hostile document of nested
// aliases cannot make this exponential. Keys that are not plain scalars are
// compared by their text.
std::vector<DuplicateKey> FindDuplicateKeys(const YAML::Node& root);

// "duplicate key (lines 3 and 7)".
std::string DuplicateKeyReason(const DuplicateKey& duplicate);

// "name: duplicate key (lines 3 and 7)", or "(twice on line 4)" for a flow
// mapping that repeats a key on one line.
std::string DescribeDuplicateKey(const DuplicateKey& duplicate);

}  // namespace moe4
