#include "common/campaign_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/catalogue.h"
#include "common/precision_name.h"
#include "common/combinatorics.h"
#include "common/yaml_keys.h"

namespace moe4 {
namespace {

constexpr int kMaxK = 8;
constexpr size_t kMaxNameLength = 100;
constexpr size_t kMaxPathLength = 4096;
constexpr size_t kMaxListLength = 100;
constexpr int64_t kMaxJobSeconds = 30LL * 24 * 3600;

const std::vector<std::string> kDatasets = {"cifar10", "cifar100", "fashion-mnist", "folder",   "mnist",
                                             "synthetic", "tinyimagenet"};
const std::vector<std::string> kDeviceKinds = {"", "cpu", "cuda"};

// Collects every problem with its line, so the user fixes a spec in one go.
// Messages echo parts of the input; each line is made printable here as a
// last line of defence (the echoing code quotes and shortens already), so no
// raw byte from a spec reaches a terminal or a log line.
class Problems {
 public:
  void Add(const YAML::Node& at, const std::string& field, const std::string& reason) {
    AddAtLine(at.IsDefined() && at.Mark().line >= 0 ? at.Mark().line + 1 : 0, field, reason);
  }
  // `line` is 1-based; 0 = none.
  void AddAtLine(int line, const std::string& field, const std::string& reason) {
    std::string text = line > 0 ? absl::StrCat("line ", line, ": ", field, ": ", reason)
                                : absl::StrCat(field, ": ", reason);
    for (char& c : text) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7f) c = '?';
    }
    lines_.push_back(std::move(text));
  }
  bool empty() const { return lines_.empty(); }
  absl::Status ToStatus() const { return absl::InvalidArgumentError(absl::StrJoin(lines_, "\n")); }

 private:
  std::vector<std::string> lines_;
};

std::string Quote(const std::string& s) {
  // Keep hostile input readable and short in error messages.
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < 60; ++i) {
    const unsigned char c = s[i];
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > 60) out += "...";
  return out + "\"";
}

// A name as the user wrote it when it is a plain identifier, else quoted and
// made printable: unknown keys and parser messages echo the input, and raw
// bytes from it (newlines, escape sequences) must not reach a terminal or a
// log line, nor a 200 KB key a message.
std::string FieldName(const std::string& s) {
  const bool plain = !s.empty() && s.size() <= 64 &&
                     std::all_of(s.begin(), s.end(), [](unsigned char c) {
                       return std::isalnum(c) || c == '_' || c == '-' || c == '.';
                     });
  return plain ? s : Quote(s);
}

std::string Printable(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 200; ++i) {
    const unsigned char c = s[i];
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  return out;
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return Quote(node.Scalar());
    default: return "an undefined value";
  }
}

// Rejects keys of `map` not in `known`, with a "did you mean" hint.
void CheckKeys(const YAML::Node& map, const std::string& prefix, const std::vector<std::string>& known,
               Problems& problems) {
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) {
      problems.Add(entry.first, prefix.empty() ? "(key)" : prefix, "keys must be plain names");
      continue;
    }
    const std::string key = entry.first.Scalar();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    const std::string hint = ClosestMatch(key, known);
    problems.Add(entry.first, prefix.empty() ? FieldName(key) : absl::StrCat(prefix, ".", FieldName(key)),
                 hint.empty() ? "unknown field" : absl::StrCat("unknown field (did you mean \"", hint, "\"?)"));
  }
}

std::optional<std::string> ReadString(const YAML::Node& node, const std::string& field, size_t max_length,
                                      Problems& problems) {
  if (!node.IsScalar()) {
    problems.Add(node, field, absl::StrCat("expected a string, got ", Describe(node)));
    return std::nullopt;
  }
  if (node.Scalar().size() > max_length) {
    problems.Add(node, field, absl::StrCat("longer than ", max_length, " characters"));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<int64_t> ReadInteger(const YAML::Node& node, const std::string& field, int64_t min, int64_t max,
                                   Problems& problems) {
  int64_t value = 0;
  if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, value)) {
    problems.Add(node, field, absl::StrCat("expected an integer, got ", Describe(node)));
    return std::nullopt;
  }
  if (value < min || value > max) {
    problems.Add(node, field, absl::StrCat(value, " is out of range [", min, ", ", max, "]"));
    return std::nullopt;
  }
  return value;
}

std::optional<double> ReadNumber(const YAML::Node& node, const std::string& field, double min, double max,
                                 bool min_exclusive, Problems& problems) {
  double value = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) || !std::isfinite(value)) {
    problems.Add(node, field, absl::StrCat("expected a finite number, got ", Describe(node)));
    return std::nullopt;
  }
  if ((min_exclusive ? value <= min : value < min) || value > max) {
    problems.Add(node, field,
                 absl::StrCat(Printable(node.Scalar()), " is out of range ", min_exclusive ? "(" : "[", min, ", ", max, "]"));
    return std::nullopt;
  }
  return value;
}

std::optional<std::vector<std::string>> ReadFamilyList(const YAML::Node& node, const std::string& field,
                                                       Problems& problems) {
  if (!node.IsSequence()) {
    problems.Add(node, field, absl::StrCat("expected a list of family ids, got ", Describe(node)));
    return std::nullopt;
  }
  if (node.size() > kMaxListLength) {
    problems.Add(node, field, absl::StrCat("more than ", kMaxListLength, " entries"));
    return std::nullopt;
  }
  std::vector<std::string> families;
  std::map<std::string, size_t> seen;
  bool ok = true;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string item_field = absl::StrCat(field, "[", i, "]");
    const auto name = ReadString(node[i], item_field, kMaxNameLength, problems);
    if (!name) { ok = false; continue; }
    if (!IsKnownFamily(*name)) {
      const std::string hint = SuggestFamily(*name);
      problems.Add(node[i], item_field,
                   absl::StrCat("unknown family ", Quote(*name),
                                hint.empty() ? " (moe4ctl families lists the catalogue)"
                                             : absl::StrCat(" (did you mean \"", hint, "\"?)")));
      ok = false;
      continue;
    }
    if (auto [it, inserted] = seen.emplace(*name, i); !inserted) {
      problems.Add(node[i], item_field,
                   absl::StrCat("duplicate family ", Quote(*name), " (also ", field, "[", it->second, "])"));
      ok = false;
      continue;
    }
    families.push_back(*name);
  }
  if (!ok) return std::nullopt;
  return families;
}

// Bounds of one numeric recipe field. Fields are found by name through the
// proto descriptor, so a new Recipe field needs one line here and nothing else.
struct RecipeBound {
  double min, max;
  bool min_exclusive;
};

const std::map<std::string, RecipeBound>& RecipeBounds() {
  static const std::map<std::string, RecipeBound> kBounds = {
      {"epochs", {1, 0 /* limits.max_epochs */, false}},
      {"batch_size", {1, 4096, false}},
      {"lr", {0, 10, true}},
      {"gate_lr_scale", {0, 100, true}},
      {"weight_decay", {0, 1, false}},
      {"beta1", {0, 0.999999, false}},
      {"beta2", {0, 0.999999, false}},
      {"warmup_epochs", {0, 0 /* epochs */, false}},
      {"warmup_start_factor", {0, 1, true}},
      {"min_lr", {0, 10, false}},
      {"grad_clip_norm", {0, 1e6, false}},
      {"mixup_alpha", {0, 10, false}},
      {"label_smoothing", {0, 0.999, false}},
      {"load_balance_weight", {0, 100, false}},
      {"entropy_weight", {0, 100, false}},
      {"oracle_weight", {0, 100, false}},
      {"gate_temperature", {0.5, 5, false}},
      {"gate_noise_std", {0, 10, false}},
      {"gate_top_k", {0, kMaxK, false}},
      {"width", {0.03125, 4, false}},
  };
  return kBounds;
}

void ParseRecipe(const YAML::Node& node, const SpecLimits& limits, moe4::v1::Recipe& recipe, Problems& problems) {
  if (!node.IsMap()) {
    problems.Add(node, "recipe", absl::StrCat("expected a mapping, got ", Describe(node)));
    return;
  }
  std::vector<std::string> known;
  for (const auto& [name, bound] : RecipeBounds()) known.push_back(name);
  std::vector<std::string> keys = known;
  keys.push_back("precision");
  CheckKeys(node, "recipe", keys, problems);
  if (const YAML::Node precision = node["precision"]; precision.IsDefined()) {
    const auto parsed = precision.IsScalar() ? ParsePrecisionSpecName(precision.Scalar()) : std::nullopt;
    if (parsed) {
      recipe.set_precision(*parsed);
    } else {
      problems.Add(precision, "recipe.precision",
                   absl::StrCat("expected ", std::string(kPrecisionChoices), ", got ", Describe(precision)));
    }
  }

  const auto* descriptor = moe4::v1::Recipe::descriptor();
  const auto* reflection = moe4::v1::Recipe::GetReflection();
  bool warmup_given = false;
  // epochs first: warmup_epochs is bounded by it.
  std::vector<std::string> order = {"epochs"};
  for (const auto& name : known) if (name != "epochs") order.push_back(name);
  for (const auto& name : order) {
    const YAML::Node value = node[name];
    if (!value.IsDefined()) continue;
    RecipeBound bound = RecipeBounds().at(name);
    if (name == "epochs") bound.max = limits.max_epochs;
    if (name == "warmup_epochs") { bound.max = recipe.epochs(); warmup_given = true; }
    const auto* field = descriptor->FindFieldByName(name);
    const std::string path = absl::StrCat("recipe.", name);
    if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT32) {
      if (auto v = ReadInteger(value, path, static_cast<int64_t>(bound.min), static_cast<int64_t>(bound.max), problems)) {
        reflection->SetInt32(&recipe, field, static_cast<int32_t>(*v));
      }
    } else {
      if (auto v = ReadNumber(value, path, bound.min, bound.max, bound.min_exclusive, problems)) {
        reflection->SetDouble(&recipe, field, *v);
      }
    }
  }
  // The design's 5 warm-up epochs would swallow a short run whole; unless the
  // user says otherwise, warm up for at most all but the last epoch.
  if (!warmup_given) recipe.set_warmup_epochs(std::min(recipe.warmup_epochs(), std::max(0, recipe.epochs() - 1)));
  if (recipe.min_lr() > recipe.lr()) {
    problems.Add(node["min_lr"], "recipe.min_lr", "must not exceed recipe.lr");
  }
}

// "channels=1,size=28,classes=10,noise=0.2": the synthetic set's knobs. The
// worker owns their meaning; this only keeps the text well formed and bounded.
std::string CheckSyntheticOptions(const std::string& options) {
  static const std::map<std::string, std::pair<double, double>> kKnobs = {
      {"channels", {1, 4}}, {"size", {8, 256}}, {"classes", {2, 216}}, {"noise", {0, 1}}};
  for (absl::string_view item : absl::StrSplit(options, ',')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    const auto knob = kKnobs.find(kv.first);
    if (knob == kKnobs.end()) {
      return absl::StrCat("synthetic option ", Quote(kv.first), " is unknown (expected channels, size, classes, noise)");
    }
    double value = 0;
    if (!absl::SimpleAtod(kv.second, &value) || value < knob->second.first || value > knob->second.second) {
      return absl::StrCat("synthetic option ", kv.first, "=", Quote(kv.second), " must be a number in [",
                          knob->second.first, ", ", knob->second.second, "]");
    }
  }
  return "";
}

void ParseDataset(const YAML::Node& node, moe4::v1::DatasetSpec& dataset, Problems& problems) {
  if (!node.IsMap()) {
    problems.Add(node, "dataset", absl::StrCat("expected a mapping, got ", Describe(node)));
    return;
  }
  CheckKeys(node, "dataset",
            {"name", "path", "train_subset", "test_subset", "resize", "validation_fraction", "skip_bad_images"},
            problems);
  if (!node["name"].IsDefined()) {
    problems.Add(node, "dataset.name", absl::StrCat("required (one of ", absl::StrJoin(kDatasets, ", "), ")"));
  } else if (auto name = ReadString(node["name"], "dataset.name", kMaxNameLength, problems)) {
    if (name->rfind("synthetic:", 0) == 0) {
      if (auto error = CheckSyntheticOptions(name->substr(10)); !error.empty()) {
        problems.Add(node["name"], "dataset.name", error);
      } else {
        dataset.set_name(*name);
      }
    } else if (std::find(kDatasets.begin(), kDatasets.end(), *name) == kDatasets.end()) {
      const std::string hint = ClosestMatch(*name, kDatasets);
      problems.Add(node["name"], "dataset.name",
                   absl::StrCat("unknown dataset ", Quote(*name), " (expected ", absl::StrJoin(kDatasets, ", "), ")",
                                hint.empty() ? "" : absl::StrCat("; did you mean \"", hint, "\"?")));
    } else {
      dataset.set_name(*name);
    }
  }
  bool path_refused = false;  // already reported
  if (node["path"].IsDefined()) {
    path_refused = true;
    if (auto path = ReadString(node["path"], "dataset.path", kMaxPathLength, problems)) {
      if (auto problem = DatasetPathProblem(*path); !problem.empty()) {
        problems.Add(node["path"], "dataset.path", problem);
      } else {
        dataset.set_path(*path);
        path_refused = false;
      }
    }
  }
  if (node["train_subset"].IsDefined()) {
    if (auto v = ReadInteger(node["train_subset"], "dataset.train_subset", 0, 10'000'000, problems)) dataset.set_train_subset(*v);
  }
  if (node["test_subset"].IsDefined()) {
    if (auto v = ReadInteger(node["test_subset"], "dataset.test_subset", 0, 10'000'000, problems)) dataset.set_test_subset(*v);
  }
  if (node["validation_fraction"].IsDefined()) {
    if (auto v = ReadNumber(node["validation_fraction"], "dataset.validation_fraction", 0, 0.5, false, problems)) {
      dataset.set_validation_fraction(*v);
    }
  }
  if (node["resize"].IsDefined()) {
    if (auto v = ReadInteger(node["resize"], "dataset.resize", 0, 512, problems)) {
      if (*v != 0 && *v < 16) {
        problems.Add(node["resize"], "dataset.resize", "must be 0 (native) or at least 16 pixels");
      } else {
        dataset.set_resize(*v);
      }
    }
  }
  const bool image_files = dataset.name() == "folder" || dataset.name() == "tinyimagenet";
  if (node["skip_bad_images"].IsDefined()) {
    bool skip = false;
    if (!node["skip_bad_images"].IsScalar() || !YAML::convert<bool>::decode(node["skip_bad_images"], skip)) {
      problems.Add(node["skip_bad_images"], "dataset.skip_bad_images",
                   absl::StrCat("expected true or false, got ", Describe(node["skip_bad_images"])));
    } else if (skip && !dataset.name().empty() && !image_files) {
      problems.Add(node["skip_bad_images"], "dataset.skip_bad_images",
                   absl::StrCat("applies to image files (folder, tinyimagenet), not to ", Quote(dataset.name())));
    } else {
      dataset.set_skip_bad_images(skip);
    }
  }
  // The worker's disk is out of reach here; what can be told is that a
  // folder dataset names its directory.
  if (dataset.name() == "folder" && dataset.path().empty() && !path_refused) {
    problems.Add(node["path"].IsDefined() ? node["path"] : node, "dataset.path",
                 "required for a folder dataset: its directory under the workers' --data-root, holding "
                 "train/<class>/ and test/<class>/");
  }
}

void ParseRequirements(const YAML::Node& node, moe4::v1::DeviceRequirement& requirements, Problems& problems) {
  if (!node.IsMap()) {
    problems.Add(node, "requirements", absl::StrCat("expected a mapping, got ", Describe(node)));
    return;
  }
  CheckKeys(node, "requirements", {"device_kind", "min_memory_mb"}, problems);
  if (node["device_kind"].IsDefined()) {
    if (auto kind = ReadString(node["device_kind"], "requirements.device_kind", kMaxNameLength, problems)) {
      if (std::find(kDeviceKinds.begin(), kDeviceKinds.end(), *kind) == kDeviceKinds.end()) {
        problems.Add(node["device_kind"], "requirements.device_kind",
                     absl::StrCat("unknown device kind ", Quote(*kind), " (expected cpu or cuda)"));
      } else {
        requirements.set_device_kind(*kind);
      }
    }
  }
  if (node["min_memory_mb"].IsDefined()) {
    if (auto v = ReadInteger(node["min_memory_mb"], "requirements.min_memory_mb", 0, 10'000'000, problems)) {
      requirements.set_min_memory_mb(*v);
    }
  }
}

// `selection` and dataset.validation_fraction together: an epoch is selected
// on held-out training images, or (selection: final, said explicitly) the
// last epoch is taken without any; and a split must leave every class with
// validation and training images (estimated here for known datasets; the
// worker checks the real split and fails the job when it does not).
void CheckValidationSplit(const YAML::Node& root, CampaignSpec& spec, Problems& problems) {
  bool explicit_final = false;
  const YAML::Node selection = root["selection"];
  if (selection.IsDefined()) {
    if (auto name = ReadString(selection, "selection", kMaxNameLength, problems)) {
      if (*name == "best_validation") {
        spec.selection = Selection::kBestValidation;
      } else if (*name == "final") {
        spec.selection = Selection::kFinal;
        explicit_final = true;
      } else {
        const std::string hint = ClosestMatch(*name, {"best_validation", "final"});
        problems.Add(selection, "selection",
                     absl::StrCat("unknown selection ", Quote(*name), " (expected best_validation or final)",
                                  hint.empty() ? "" : absl::StrCat("; did you mean \"", hint, "\"?")));
      }
    }
  }
  const YAML::Node dataset = root["dataset"];
  const bool fraction_given = dataset.IsMap() && dataset["validation_fraction"].IsDefined();
  const YAML::Node fraction_node =
      fraction_given ? dataset["validation_fraction"] : (dataset.IsDefined() ? dataset : root);
  const double fraction = spec.dataset.validation_fraction();
  if (explicit_final) {
    if (fraction > 0) {
      problems.Add(selection, "selection",
                   absl::StrCat("final reports the last epoch and uses no validation split, but "
                                "dataset.validation_fraction is ",
                                fraction, fraction_given ? "" : " (the default)",
                                "; set dataset.validation_fraction: 0, or remove selection: final to select the "
                                "epoch by validation accuracy"));
    }
    return;
  }
  if (fraction <= 0) {
    problems.Add(fraction_node, "dataset.validation_fraction",
                 "0 leaves no validation images to select the epoch by; add selection: final to report the "
                 "last epoch instead (test accuracy never selects an epoch)");
    return;
  }
  const int64_t per_class = EstimatedTrainingImagesPerClass(spec.dataset);
  if (per_class <= 0) return;
  const int64_t held_out = ValidationImagesOfClass(fraction, per_class);
  if (held_out >= 1 && per_class - held_out >= 1) return;
  // The fewest images per class for which the fraction holds out one.
  const int64_t needed = std::max<int64_t>(2, static_cast<int64_t>(std::ceil(0.5 / fraction - 1e-9)));
  problems.Add(fraction_node, "dataset.validation_fraction",
               absl::StrCat(fraction, " of about ", per_class, " training image", per_class == 1 ? "" : "s",
                            " per class leaves a class without ",
                            held_out < 1 ? "validation" : "training", " images; use at least ", needed,
                            " training images per class (dataset.train_subset) or a larger validation_fraction"));
}

// `schedule` (common/schedule.h). Runs after the recipe, the dataset and
// `replicates` are parsed: asha sets recipe.epochs to max_epochs (or takes
// it from there) and needs a validation split to promote by.
void ParseSchedule(const YAML::Node& root, const SpecLimits& limits, CampaignSpec& spec, Problems& problems) {
  const YAML::Node node = root["schedule"];
  if (!node.IsDefined()) return;
  if (!node.IsMap()) {
    problems.Add(node, "schedule", absl::StrCat("expected a mapping, got ", Describe(node)));
    return;
  }
  CheckKeys(node, "schedule", {"kind", "min_epochs", "max_epochs", "reduction_factor", "metric"}, problems);
  ScheduleSpec& schedule = spec.schedule;
  if (node["kind"].IsDefined()) {
    if (auto name = ReadString(node["kind"], "schedule.kind", kMaxNameLength, problems)) {
      if (auto kind = ParseScheduleKind(*name)) {
        schedule.kind = *kind;
      } else {
        const std::string hint = ClosestMatch(*name, {"full", "asha"});
        problems.Add(node["kind"], "schedule.kind",
                     absl::StrCat("unknown schedule ", Quote(*name), " (expected full or asha)",
                                  hint.empty() ? "" : absl::StrCat("; did you mean \"", hint, "\"?")));
        return;
      }
    } else {
      return;
    }
  }
  if (node["metric"].IsDefined()) {
    if (auto metric = ReadString(node["metric"], "schedule.metric", kMaxNameLength, problems)) {
      if (*metric != kScheduleMetric) {
        problems.Add(node["metric"], "schedule.metric",
                     absl::StrCat("unknown metric ", Quote(*metric), " (expected ", std::string(kScheduleMetric),
                                  "; promotions never look at test accuracy)"));
      }
    }
  }
  if (schedule.kind == ScheduleKind::kFull) {
    for (const char* field : {"min_epochs", "max_epochs", "reduction_factor"}) {
      if (node[field].IsDefined()) {
        problems.Add(node[field], absl::StrCat("schedule.", field),
                     "only with kind: asha (a full schedule trains every job recipe.epochs)");
      }
    }
    return;
  }
  // asha.
  bool bounds_ok = true;
  schedule.min_epochs = 1;
  if (node["min_epochs"].IsDefined()) {
    auto v = ReadInteger(node["min_epochs"], "schedule.min_epochs", 1, std::numeric_limits<int32_t>::max(), problems);
    if (v) schedule.min_epochs = static_cast<int>(*v); else bounds_ok = false;
  }
  // A default-constructed YAML::Node is a defined null: look the key up only
  // in a recipe mapping.
  const bool recipe_epochs_given = root["recipe"].IsMap() && root["recipe"]["epochs"].IsDefined();
  const int recipe_epochs_line = recipe_epochs_given ? root["recipe"]["epochs"].Mark().line + 1 : 0;
  schedule.max_epochs = spec.recipe.epochs();
  if (node["max_epochs"].IsDefined()) {
    auto v = ReadInteger(node["max_epochs"], "schedule.max_epochs", 1, std::numeric_limits<int32_t>::max(), problems);
    if (!v) {
      bounds_ok = false;
    } else if (*v > limits.max_epochs) {
      // The top rung's epochs are a job's epochs: the coordinator's bound holds.
      problems.Add(node["max_epochs"], "schedule.max_epochs",
                   absl::StrCat(*v, " exceeds this coordinator's --max-epochs of ", limits.max_epochs,
                                " (the top rung trains max_epochs)"));
      bounds_ok = false;
    } else if (recipe_epochs_given && spec.recipe.epochs() != *v) {
      problems.Add(node["max_epochs"], "schedule.max_epochs",
                   absl::StrCat(*v, " differs from recipe.epochs ", spec.recipe.epochs(),
                                " (line ", recipe_epochs_line,
                                "); under asha the learning-rate schedule spans max_epochs: set one of them"));
      bounds_ok = false;
    } else {
      schedule.max_epochs = static_cast<int>(*v);
    }
  }
  if (node["reduction_factor"].IsDefined()) {
    auto v = ReadInteger(node["reduction_factor"], "schedule.reduction_factor", std::numeric_limits<int32_t>::min(),
                         std::numeric_limits<int32_t>::max(), problems);
    if (v && (*v < 2 || *v > kMaxReductionFactor)) {
      problems.Add(node["reduction_factor"], "schedule.reduction_factor",
                   absl::StrCat(*v, " is out of range [2, ", kMaxReductionFactor,
                                "] (eta: the top 1/eta of a rung is promoted; eta < 2 would promote everyone)"));
    } else if (v) {
      schedule.reduction_factor = static_cast<int>(*v);
    }
  }
  if (bounds_ok && schedule.min_epochs > schedule.max_epochs) {
    problems.Add(node["min_epochs"], "schedule.min_epochs",
                 absl::StrCat(schedule.min_epochs, " is greater than schedule.max_epochs ", schedule.max_epochs,
                              node["max_epochs"].IsDefined() ? "" : " (recipe.epochs)"));
  }
  if (bounds_ok && !node["max_epochs"].IsDefined() && schedule.max_epochs > limits.max_epochs) {
    problems.Add(node, "schedule.max_epochs",
                 absl::StrCat(schedule.max_epochs, " exceeds this coordinator's --max-epochs of ", limits.max_epochs));
  }
  spec.recipe.set_epochs(schedule.max_epochs);
  // The default warm-up (5 epochs, at most all but the last) follows the
  // epochs max_epochs gave.
  const bool warmup_given = root["recipe"].IsMap() && root["recipe"]["warmup_epochs"].IsDefined();
  if (!warmup_given) {
    spec.recipe.set_warmup_epochs(
        std::min(DefaultRecipe().warmup_epochs(), std::max(0, spec.recipe.epochs() - 1)));
  } else if (spec.recipe.warmup_epochs() > spec.recipe.epochs()) {
    problems.Add(root["recipe"]["warmup_epochs"], "recipe.warmup_epochs",
                 absl::StrCat(spec.recipe.warmup_epochs(), " is greater than schedule.max_epochs ",
                              spec.recipe.epochs()));
  }
  if (spec.dataset.validation_fraction() <= 0) {
    const YAML::Node dataset = root["dataset"];
    const YAML::Node fraction = dataset.IsMap() && dataset["validation_fraction"].IsDefined()
                                    ? dataset["validation_fraction"]
                                    : node["kind"];
    problems.Add(fraction, "schedule.kind",
                 "asha promotes by validation accuracy, but dataset.validation_fraction is 0 (no validation "
                 "split); set dataset.validation_fraction above 0 (and drop selection: final), or use kind: full");
  }
  if (spec.replicates > 1) {
    problems.Add(root["replicates"], "schedule.kind",
                 absl::StrCat("asha promotes single runs; replicates ", spec.replicates,
                              " is not supported with it (set replicates: 1 or kind: full)"));
  }
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

moe4::v1::Recipe DefaultRecipe() {
  moe4::v1::Recipe r;
  r.set_epochs(10);
  r.set_batch_size(128);
  r.set_lr(1e-3);
  r.set_gate_lr_scale(2.0);
  r.set_weight_decay(5e-4);
  r.set_beta1(0.9);
  r.set_beta2(0.999);
  r.set_warmup_epochs(5);
  r.set_warmup_start_factor(0.1);
  r.set_min_lr(1e-6);
  r.set_grad_clip_norm(1.0);
  r.set_mixup_alpha(0.2);
  r.set_label_smoothing(0.1);
  r.set_load_balance_weight(0.01);
  r.set_entropy_weight(0.0);
  r.set_oracle_weight(0.0);
  r.set_gate_temperature(2.0);
  r.set_gate_noise_std(0.1);
  r.set_gate_top_k(0);
  r.set_width(1.0);
  r.set_catalogue(moe4::v1::EXPERT_CATALOGUE_LEMUR);
  r.set_precision(moe4::v1::PRECISION_AUTO);
  return r;
}

std::string_view SelectionName(Selection selection) {
  return selection == Selection::kFinal ? "final" : "best_validation";
}

int64_t ValidationImagesOfClass(double fraction, int64_t class_images) {
  if (fraction <= 0 || class_images <= 0) return 0;
  return std::llround(fraction * static_cast<double>(class_images));
}

int64_t EstimatedTrainingImagesPerClass(const moe4::v1::DatasetSpec& dataset) {
  const std::string& name = dataset.name();
  int64_t images = 0;
  int64_t classes = 0;
  if (name == "fashion-mnist" || name == "mnist") {
    images = 60000, classes = 10;
  } else if (name == "cifar10") {
    images = 50000, classes = 10;
  } else if (name == "cifar100") {
    images = 50000, classes = 100;
  } else if (name == "tinyimagenet") {
    images = 100000, classes = 200;  // TinyImageNet-200 as released: 500 per class
  } else if (name.rfind("synthetic", 0) == 0) {
    // The worker's defaults: 10,000 training images over 10 classes, labels
    // cycling through the classes (so the smallest class has the floor).
    images = 10000, classes = 10;
    const size_t at = name.find("classes=");
    if (at != std::string::npos) {
      const std::string rest = name.substr(at + 8);
      if (!absl::SimpleAtoi(rest.substr(0, rest.find(',')), &classes) || classes <= 0) return 0;
    }
    if (dataset.train_subset() > 0) images = dataset.train_subset();
    return images / classes;
  } else {
    return 0;
  }
  if (dataset.train_subset() > 0) images = std::min<int64_t>(images, dataset.train_subset());
  return images / classes;
}

moe4::v1::ExpertCatalogue ToProto(Catalogue catalogue) {
  return catalogue == Catalogue::kAdapted ? moe4::v1::EXPERT_CATALOGUE_ADAPTED : moe4::v1::EXPERT_CATALOGUE_LEMUR;
}

Catalogue FromProto(moe4::v1::ExpertCatalogue catalogue) {
  // UNSPECIFIED: a campaign stored before catalogues existed, built from the
  // adapted designs.
  return catalogue == moe4::v1::EXPERT_CATALOGUE_LEMUR ? Catalogue::kLemur : Catalogue::kAdapted;
}

int InputImageSize(const moe4::v1::DatasetSpec& dataset) {
  if (dataset.resize() > 0) return dataset.resize();
  const std::string& name = dataset.name();
  if (name == "fashion-mnist" || name == "mnist") return 28;
  if (name == "cifar10" || name == "cifar100") return 32;
  if (name == "tinyimagenet") return 64;
  if (name.rfind("synthetic", 0) == 0) {
    // "synthetic:...,size=N,...": the worker's default side is 32.
    const size_t at = name.find("size=");
    if (at != std::string::npos) {
      int size = 0;
      const std::string rest = name.substr(at + 5);
      if (absl::SimpleAtoi(rest.substr(0, rest.find(',')), &size)) return size;
    }
    return 32;
  }
  return 0;
}

std::vector<std::string> InputSizeProblems(Catalogue catalogue, const std::vector<std::string>& pool,
                                           const moe4::v1::DatasetSpec& dataset) {
  const int size = InputImageSize(dataset);
  if (size <= 0) return {};
  // The sizes every pool family accepts: [lowest, highest] (highest 0: no cap).
  int lowest = 0, highest = 0;
  std::string lowest_family, highest_family;
  for (const auto& family : pool) {
    if (const int minimum = MinimumImageSize(catalogue, family); minimum > lowest) {
      lowest = minimum;
      lowest_family = family;
    }
    const int maximum = MaximumImageSize(catalogue, family);
    if (maximum > 0 && (highest == 0 || maximum < highest)) {
      highest = maximum;
      highest_family = family;
    }
  }
  std::string advice;
  if (highest > 0 && lowest > highest) {
    advice = absl::StrCat("no single size fits this pool: ", lowest_family, " needs at least ", lowest, ", ",
                          highest_family, " at most ", highest, "; exclude one of them, or catalogue: adapted");
  } else if (highest > 0) {
    advice = absl::StrCat("set dataset.resize: between ", lowest, " and ", highest,
                          " for this pool, or catalogue: adapted");
  } else {
    advice = absl::StrCat("set dataset.resize: ", lowest, " or more for this pool, or catalogue: adapted");
  }
  const std::string given = absl::StrCat("dataset ", Quote(dataset.name()), dataset.resize() > 0 ? " resized" : "",
                                         " gives ", size, "x", size);
  const std::string where = absl::StrCat("catalogue ", std::string(CatalogueName(catalogue)), ": ");
  std::vector<std::string> problems;
  for (const auto& family : pool) {
    const int minimum = MinimumImageSize(catalogue, family);
    const int maximum = MaximumImageSize(catalogue, family);
    if (minimum > size) {
      problems.push_back(absl::StrCat(where, family, " needs inputs of at least ", minimum, "x", minimum,
                                      " pixels; ", given, " (", advice, ")"));
    } else if (maximum > 0 && size > maximum) {
      problems.push_back(absl::StrCat(where, family, " accepts inputs of at most ", maximum, "x", maximum,
                                      " pixels (LEMUR sizes its classifier for one input size); ", given, " (",
                                      advice, ")"));
    }
  }
  return problems;
}

std::string DatasetPathProblem(const std::string& path) {
  if (path.empty()) return "";
  if (path.front() == '/') {
    std::string last(absl::StripSuffix(path, "/"));
    last = last.substr(last.rfind('/') + 1);
    return absl::StrCat(Quote(path), " is absolute; give it relative to the workers' --data-root",
                        last.empty() || last == ".." ? "" : absl::StrCat(" (e.g. ", Quote(last), ")"));
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") {
      return absl::StrCat(Quote(path), " has a \"..\" component; a dataset must lie under the workers' --data-root");
    }
  }
  return "";
}

absl::StatusOr<CampaignSpec> ParseCampaignSpec(std::string_view yaml, const SpecLimits& limits) {
  if (yaml.size() > limits.max_spec_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec: ", yaml.size(), " bytes is larger than the limit of ", limits.max_spec_bytes));
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("line ", e.mark.line + 1, ": spec: not valid YAML: ", Printable(e.msg)));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat("spec: expected a mapping of fields, got ", Describe(root)));
  }

  Problems problems;
  // yaml-cpp keeps both entries of a repeated key and answers lookups with
  // the first: refuse the spec rather than guess which one was meant.
  for (const DuplicateKey& duplicate : FindDuplicateKeys(root)) {
    problems.AddAtLine(duplicate.second_line, duplicate.field, DuplicateKeyReason(duplicate));
  }
  CampaignSpec spec;
  spec.recipe = DefaultRecipe();
  spec.dataset.set_name("synthetic");
  spec.dataset.set_validation_fraction(kDefaultValidationFraction);
  CheckKeys(root, "",
            {"name", "families", "exclude", "k", "sampler", "budget", "seed", "max_attempts", "priority",
             "max_job_seconds", "catalogue", "replicates", "selection", "refill", "dataset", "recipe",
             "requirements", "schedule"},
            problems);

  if (!root["name"].IsDefined()) {
    problems.Add(root, "name", "required");
  } else if (auto name = ReadString(root["name"], "name", 1 << 20, problems)) {
    if (!ValidName(*name)) {
      problems.Add(root["name"], "name",
                   absl::StrCat(Quote(*name), " must be 1-", kMaxNameLength, " characters of A-Z a-z 0-9 . _ -"));
    } else {
      spec.name = *name;
    }
  }

  bool pool_ok = true;
  std::vector<std::string> pool = FamilyCatalogue();
  if (root["families"].IsDefined()) {
    auto families = ReadFamilyList(root["families"], "families", problems);
    if (families) pool = *families; else pool_ok = false;
  }
  if (root["exclude"].IsDefined()) {
    if (auto excluded = ReadFamilyList(root["exclude"], "exclude", problems)) {
      for (const auto& family : *excluded) pool.erase(std::remove(pool.begin(), pool.end(), family), pool.end());
    } else {
      pool_ok = false;
    }
  }
  std::sort(pool.begin(), pool.end());
  spec.pool = pool;
  if (pool_ok && pool.empty()) problems.Add(root["families"], "families", "the pool is empty after exclude");

  if (root["k"].IsDefined()) {
    if (auto k = ReadInteger(root["k"], "k", 1, kMaxK, problems)) spec.k = static_cast<int>(*k);
    else pool_ok = false;
  }
  if (pool_ok && !pool.empty() && spec.k > static_cast<int>(pool.size())) {
    problems.Add(root["k"], "k", absl::StrCat(spec.k, " is larger than the pool (", pool.size(), " families)"));
    pool_ok = false;
  }

  if (root["sampler"].IsDefined()) {
    if (auto name = ReadString(root["sampler"], "sampler", kMaxNameLength, problems)) {
      auto kind = ParseSamplerKind(*name);
      if (kind.ok()) spec.sampler = *kind;
      else problems.Add(root["sampler"], "sampler", std::string(absl::StripPrefix(kind.status().message(), "sampler: ")));
    }
  }

  if (root["refill"].IsDefined()) {
    bool refill = true;
    if (!root["refill"].IsScalar() || !YAML::convert<bool>::decode(root["refill"], refill)) {
      problems.Add(root["refill"], "refill", absl::StrCat("expected true or false, got ", Describe(root["refill"])));
    } else {
      spec.refill = refill;
    }
  }
  if (root["replicates"].IsDefined()) {
    if (auto v = ReadInteger(root["replicates"], "replicates", 1, kMaxReplicates, problems)) {
      spec.replicates = static_cast<int>(*v);
    }
  }
  // Every combination runs `replicates` times: the coordinator's job limit
  // bounds budget * replicates.
  const uint64_t max_combinations = limits.max_budget / static_cast<uint64_t>(spec.replicates);
  const std::string per_replicates =
      spec.replicates > 1 ? absl::StrCat(" combinations at ", spec.replicates, " replicates") : " jobs";
  const uint64_t combinations = Binomial(static_cast<int>(pool.size()), spec.k);
  if (root["budget"].IsDefined()) {
    if (auto budget = ReadInteger(root["budget"], "budget", 1, std::numeric_limits<int64_t>::max(), problems)) {
      spec.budget = static_cast<uint64_t>(*budget);
      if (pool_ok && spec.budget > combinations) {
        problems.Add(root["budget"], "budget",
                     absl::StrCat(spec.budget, " exceeds C(", pool.size(), ",", spec.k, ") = ", combinations,
                                  " combinations"));
      } else if (spec.budget > max_combinations) {
        problems.Add(root["budget"], "budget",
                     absl::StrCat(spec.budget, " is above this coordinator's limit of ", max_combinations,
                                  per_replicates, " (", limits.max_budget, " jobs)"));
      } else if (pool_ok && spec.sampler == SamplerKind::kExhaustive && spec.budget != combinations) {
        problems.Add(root["budget"], "budget",
                     absl::StrCat("the exhaustive sampler runs all C(", pool.size(), ",", spec.k, ") = ", combinations,
                                  " combinations; omit budget or set it to that"));
      }
    }
  } else if (spec.sampler == SamplerKind::kExhaustive) {
    if (pool_ok && combinations > max_combinations) {
      problems.Add(root, "budget",
                   absl::StrCat("the exhaustive sampler would create C(", pool.size(), ",", spec.k, ") = ", combinations,
                                per_replicates, ", above this coordinator's limit of ", max_combinations,
                                per_replicates, " (", limits.max_budget, " jobs)"));
    }
    spec.budget = combinations;
  } else {
    problems.Add(root, "budget", "required (the number of combinations to evaluate)");
  }

  if (root["seed"].IsDefined()) {
    if (auto seed = ReadInteger(root["seed"], "seed", 0, std::numeric_limits<int64_t>::max(), problems)) {
      spec.seed = static_cast<uint64_t>(*seed);
    }
  }
  if (root["max_attempts"].IsDefined()) {
    if (auto v = ReadInteger(root["max_attempts"], "max_attempts", 1, 100, problems)) spec.max_attempts = *v;
  }
  if (root["priority"].IsDefined()) {
    if (auto v = ReadInteger(root["priority"], "priority", -1000, 1000, problems)) spec.priority = *v;
  }
  if (root["max_job_seconds"].IsDefined()) {
    if (auto v = ReadInteger(root["max_job_seconds"], "max_job_seconds", 0, kMaxJobSeconds, problems)) {
      spec.max_job_seconds = *v;
    }
  }
  if (root["dataset"].IsDefined()) ParseDataset(root["dataset"], spec.dataset, problems);
  if (root["recipe"].IsDefined()) ParseRecipe(root["recipe"], limits, spec.recipe, problems);
  if (spec.recipe.gate_top_k() > spec.k) {
    problems.Add(root["recipe"]["gate_top_k"], "recipe.gate_top_k",
                 absl::StrCat(spec.recipe.gate_top_k(), " is larger than k (", spec.k, ")"));
  }
  if (root["requirements"].IsDefined()) ParseRequirements(root["requirements"], spec.requirements, problems);

  if (root["catalogue"].IsDefined()) {
    if (auto name = ReadString(root["catalogue"], "catalogue", kMaxNameLength, problems)) {
      if (auto catalogue = ParseCatalogue(*name)) {
        spec.catalogue = *catalogue;
      } else {
        problems.Add(root["catalogue"], "catalogue",
                     absl::StrCat("unknown catalogue ", Quote(*name), " (expected lemur or adapted)"));
      }
    }
  }
  spec.recipe.set_catalogue(ToProto(spec.catalogue));
  // fp16 runs only on a GPU: such jobs go only to CUDA workers, never to a
  // CPU worker that could only fail them.
  if (spec.recipe.precision() == moe4::v1::PRECISION_FP16) {
    if (spec.requirements.device_kind().empty()) {
      spec.requirements.set_device_kind("cuda");
    } else if (spec.requirements.device_kind() != "cuda") {
      problems.Add(root["requirements"]["device_kind"], "recipe.precision",
                   absl::StrCat("fp16 runs only on a GPU, but requirements.device_kind is ",
                                Quote(spec.requirements.device_kind())));
    }
  }
  spec.dataset.set_split_seed(spec.seed);
  CheckValidationSplit(root, spec, problems);
  ParseSchedule(root, limits, spec, problems);
  if (pool_ok) {
    const YAML::Node where = root["dataset"].IsDefined() ? root["dataset"] : root;
    for (const auto& problem : InputSizeProblems(spec.catalogue, spec.pool, spec.dataset)) {
      problems.Add(where, "dataset", problem);
    }
  }

  if (!problems.empty()) return problems.ToStatus();
  return spec;
}

std::vector<std::string> FamiliesOfRank(const CampaignSpec& spec, uint64_t rank) {
  std::vector<std::string> families;
  for (int index : UnrankCombination(rank, static_cast<int>(spec.pool.size()), spec.k)) {
    families.push_back(spec.pool[index]);
  }
  return families;
}

uint64_t ReplicateSeed(uint64_t campaign_seed, uint64_t rank, int replicate) {
  const uint64_t seed = JobSeed(campaign_seed, rank);
  // A second round of the same mixer, keyed by the replicate: independent of
  // replicate 0's seed and of every other combination's.
  return replicate == 0 ? seed : JobSeed(seed ^ 0xd1b54a32d192ed03ULL, static_cast<uint64_t>(replicate));
}

uint64_t JobSeed(uint64_t campaign_seed, uint64_t rank) {
  // SplitMix64 finaliser over the pair: cheap, well mixed, stable forever.
  uint64_t z = campaign_seed ^ (rank + 0x9e3779b97f4a7c15ULL + (campaign_seed << 6) + (campaign_seed >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace moe4
