#include "common/yaml_keys.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace moe4 {
namespace {

// A key as it appears in a field path: plain identifiers as written, anything
// else quoted and made printable (keys echo user input into messages).
std::string PathPart(const std::string& key) {
  const bool plain = !key.empty() && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](unsigned char c) {
                       return std::isalnum(c) || c == '_' || c == '-' || c == '.';
                     });
  if (plain) return key;
  std::string out = "\"";
  for (size_t i = 0; i < key.size() && i < 60; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (key.size() > 60) out += "...";
  return out + "\"";
}

std::string KeyText(const YAML::Node& key) {
  if (key.IsScalar()) return key.Scalar();
  // A complex key: its flow form (rare, and never valid in our specs).
  YAML::Emitter out;
  out << YAML::Flow << key;
  return out.c_str();
}

}  // namespace

std::vector<DuplicateKey> FindDuplicateKeys(const YAML::Node& root) {
  std::vector<DuplicateKey> found;
  // Containers already walked, by position: an alias shares its anchor's
  // node and mark, so each subtree is visited once however often it is named.
  std::set<std::pair<int, int>> visited;
  std::vector<std::pair<YAML::Node, std::string>> stack = {{root, ""}};
  while (!stack.empty()) {
    auto [node, path] = std::move(stack.back());
    stack.pop_back();
    if (!node.IsMap() && !node.IsSequence()) continue;
    const YAML::Mark mark = node.Mark();
    if (!visited.emplace(mark.line, mark.column).second) continue;
    std::vector<std::pair<YAML::Node, std::string>> children;
    if (node.IsMap()) {
      std::map<std::string, int> first_line;
      for (const auto& entry : node) {
        const std::string key = KeyText(entry.first);
        const int line = entry.first.Mark().line + 1;
        const std::string field = path.empty() ? PathPart(key) : absl::StrCat(path, ".", PathPart(key));
        if (auto [it, inserted] = first_line.emplace(key, line); !inserted) {
          found.push_back({field, it->second, line});
        }
        children.emplace_back(entry.second, field);
      }
    } else {
      size_t i = 0;
      for (const auto& item : node) children.emplace_back(item, absl::StrCat(path, "[", i++, "]"));
    }
    // Reversed onto the stack so the walk reports in document order.
    for (auto it = children.rbegin(); it != children.rend(); ++it) stack.push_back(std::move(*it));
  }
  return found;
}

std::string DuplicateKeyReason(const DuplicateKey& duplicate) {
  if (duplicate.first_line == duplicate.second_line) {
    return absl::StrCat("duplicate key (twice on line ", duplicate.first_line, ")");
  }
  return absl::StrCat("duplicate key (lines ", duplicate.first_line, " and ", duplicate.second_line, ")");
}

std::string DescribeDuplicateKey(const DuplicateKey& duplicate) {
  return absl::StrCat(duplicate.field, ": ", DuplicateKeyReason(duplicate));
}

}  // namespace moe4
