#include "worker/train/job_spec.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "common/campaign_spec.h"
#include "common/precision_name.h"
#include "common/yaml_keys.h"
#include "worker/train/recipe.h"

namespace moe4::worker {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Sets scalar fields of `message` from a YAML map by proto field name.
absl::Status FillScalars(const YAML::Node& node, const std::string& where, Message* message) {
  if (!node.IsMap()) return absl::InvalidArgumentError(where + ": expected a mapping");
  const auto* descriptor = message->GetDescriptor();
  const auto* reflection = message->GetReflection();
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    const FieldDescriptor* field = descriptor->FindFieldByName(key);
    if (field == nullptr || field->is_repeated() || field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return absl::InvalidArgumentError(where + "." + key + ": unknown field");
    }
    try {
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          reflection->SetInt32(message, field, item.second.as<int32_t>());
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          reflection->SetInt64(message, field, item.second.as<int64_t>());
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          reflection->SetUInt64(message, field, item.second.as<uint64_t>());
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          reflection->SetDouble(message, field, item.second.as<double>());
          break;
        case FieldDescriptor::CPPTYPE_STRING:
          reflection->SetString(message, field, item.second.as<std::string>());
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          reflection->SetBool(message, field, item.second.as<bool>());
          break;
        case FieldDescriptor::CPPTYPE_ENUM:
          // The one enum a job spec sets this way is recipe.precision (the
          // catalogue has a top-level key of its own).
          if (field->enum_type() == moe4::v1::Precision_descriptor()) {
            const auto precision = ParsePrecisionSpecName(item.second.as<std::string>());
            if (!precision) {
              return absl::InvalidArgumentError(where + "." + key + ": expected " + std::string(kPrecisionChoices) +
                                                ", got '" + YAML::Dump(item.second) + "'");
            }
            reflection->SetEnumValue(message, field, *precision);
            break;
          }
          return absl::InvalidArgumentError(where + "." + key + ": unsupported type");
        default:
          return absl::InvalidArgumentError(where + "." + key + ": unsupported type");
      }
    } catch (const YAML::Exception&) {
      return absl::InvalidArgumentError(where + "." + key + ": expected a " + field->cpp_type_name() + ", got '" +
                                        YAML::Dump(item.second) + "'");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<moe4::v1::JobAssignment> ParseJobSpec(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("invalid YAML: ") + e.what());
  }
  if (!root.IsMap()) return absl::InvalidArgumentError("job spec: expected a mapping");
  // yaml-cpp keeps both entries of a repeated key; which one a lookup or the
  // loop below would honour is an accident, so refuse the spec.
  if (const auto duplicates = FindDuplicateKeys(root); !duplicates.empty()) {
    std::string message;
    for (const auto& duplicate : duplicates) {
      message += (message.empty() ? "" : "; ") + DescribeDuplicateKey(duplicate);
    }
    return absl::InvalidArgumentError(message);
  }
  moe4::v1::JobAssignment job;
  *job.mutable_recipe() = DefaultRecipe();
  // As in a campaign: hold out 10 % of the training images (split_seed 0
  // unless given) to select the epoch; validation_fraction: 0 turns it off.
  job.mutable_dataset()->set_validation_fraction(kDefaultValidationFraction);
  job.set_job_id(1);
  for (const auto& item : root) {
    const std::string key = item.first.as<std::string>();
    const YAML::Node& value = item.second;
    try {
      if (key == "families") {
        if (!value.IsSequence()) {
          return absl::InvalidArgumentError("families: expected a list of family ids");
        }
        for (const auto& f : value) job.add_families(f.as<std::string>());
      } else if (key == "dataset") {
        if (auto s = FillScalars(value, "dataset", job.mutable_dataset()); !s.ok()) return s;
      } else if (key == "recipe") {
        if (auto s = FillScalars(value, "recipe", job.mutable_recipe()); !s.ok()) return s;
      } else if (key == "catalogue") {
        const auto catalogue = ParseCatalogue(value.as<std::string>());
        if (!catalogue) {
          return absl::InvalidArgumentError("catalogue: unknown catalogue '" + value.as<std::string>() +
                                            "' (expected lemur or adapted)");
        }
        job.mutable_recipe()->set_catalogue(ToProto(*catalogue));
      } else if (key == "resume_from_epoch") {
        job.set_resume_from_epoch(value.as<int32_t>());
      } else if (key == "job_id") {
        job.set_job_id(value.as<int64_t>());
      } else {
        return absl::InvalidArgumentError(key + ": unknown key (families, catalogue, dataset, recipe, resume_from_epoch, job_id)");
      }
    } catch (const YAML::Exception&) {
      return absl::InvalidArgumentError(key + ": wrong type");
    }
  }
  if (job.families_size() == 0) return absl::InvalidArgumentError("families: missing");
  if (job.dataset().name().empty()) return absl::InvalidArgumentError("dataset.name: missing");
  const double fraction = job.dataset().validation_fraction();
  if (!(fraction >= 0 && fraction <= 0.5)) {
    return absl::InvalidArgumentError("dataset.validation_fraction: " + std::to_string(fraction) +
                                      " is out of range [0, 0.5]");
  }
  return job;
}

absl::StatusOr<moe4::v1::JobAssignment> LoadJobSpecFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(path + ": cannot open job spec");
  std::stringstream text;
  text << in.rdbuf();
  auto job = ParseJobSpec(text.str());
  if (!job.ok()) {
    return absl::Status(job.status().code(), path + ": " + std::string(job.status().message()));
  }
  return job;
}

}  // namespace moe4::worker
