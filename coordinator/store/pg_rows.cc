#include "coordinator/store/pg_rows.h"

#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace moe4::coordinator::pg_rows {

moe4::v1::JobState JobStateFromText(absl::string_view s) {
  if (s == "pending") return moe4::v1::JOB_STATE_PENDING;
  if (s == "leased") return moe4::v1::JOB_STATE_LEASED;
  if (s == "running") return moe4::v1::JOB_STATE_RUNNING;
  if (s == "succeeded") return moe4::v1::JOB_STATE_SUCCEEDED;
  if (s == "failed") return moe4::v1::JOB_STATE_FAILED;
  if (s == "cancelled") return moe4::v1::JOB_STATE_CANCELLED;
  if (s == "waiting") return moe4::v1::JOB_STATE_WAITING;
  if (s == "stopped") return moe4::v1::JOB_STATE_STOPPED;
  return moe4::v1::JOB_STATE_UNSPECIFIED;
}

moe4::v1::CampaignState CampaignStateFromText(absl::string_view s) {
  if (s == "active") return moe4::v1::CAMPAIGN_STATE_ACTIVE;
  if (s == "paused") return moe4::v1::CAMPAIGN_STATE_PAUSED;
  if (s == "cancelled") return moe4::v1::CAMPAIGN_STATE_CANCELLED;
  if (s == "done") return moe4::v1::CAMPAIGN_STATE_DONE;
  return moe4::v1::CAMPAIGN_STATE_UNSPECIFIED;
}

// A float8 as Postgres reads it back exactly (including NaN and infinities,
// which a diverging run can report).
std::string Float8Text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return absl::StrFormat("%.17g", v);
}

std::string Float8ArrayLiteral(const google::protobuf::RepeatedField<double>& values) {
  std::string out = "{";
  for (int i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += Float8Text(values[i]);
  }
  out += '}';
  return out;
}

// A text[] literal with every element quoted and escaped.
std::string TextArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

// Columns selected as array_to_json(x)::text.
std::vector<std::string> JsonTextArray(const pqxx::field& f) {
  std::vector<std::string> out;
  if (f.is_null()) return out;
  nlohmann::json j = nlohmann::json::parse(f.c_str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

double DoubleOr(const pqxx::field& f, double fallback) {
  return f.is_null() ? fallback : f.as<double>();
}
int64_t Int64Or(const pqxx::field& f, int64_t fallback) {
  return f.is_null() ? fallback : f.as<int64_t>();
}

std::string MessageJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  std::string out;
  // Cannot fail for our own messages (no Any fields).
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  return out;
}

absl::Status ParseMessageJson(const std::string& json, google::protobuf::Message* m) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;  // tolerate rows written by a newer coordinator
  auto s = google::protobuf::util::JsonStringToMessage(json, m, opts);
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat("stored ", m->GetTypeName(), " is not valid JSON: ",
                                            s.ToString()));
  }
  return absl::OkStatus();
}

std::string CountsJson(const google::protobuf::Map<std::string, int32_t>& counts) {
  if (counts.empty()) return "";
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [key, n] : counts) j[key] = n;
  // Keys came through protobuf, which only parses valid UTF-8.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void ParseCountsJson(const pqxx::field& f, google::protobuf::Map<std::string, int32_t>* out) {
  if (f.is_null()) return;
  nlohmann::json j = nlohmann::json::parse(f.c_str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return;
  for (const auto& [key, n] : j.items()) {
    if (n.is_number_integer()) (*out)[key] = n.get<int32_t>();
  }
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

absl::Status NoCampaign(int64_t id) {
  return absl::NotFoundError(absl::StrCat("campaign ", id, " does not exist"));
}

// A float8[] column selected as text ("{0.25,0.5,NaN}"). Postgres prints the
// shortest text that reads back exactly, and strtod reads NaN and Infinity,
// which JSON could not carry.
void ParseFloat8Array(const pqxx::field& f, google::protobuf::RepeatedField<double>* out) {
  if (f.is_null()) return;
  std::string text = f.as<std::string>();
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return;
  text = text.substr(1, text.size() - 2);
  if (text.empty()) return;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    out->Add(std::strtod(std::string(item).c_str(), nullptr));
  }
}

}  // namespace moe4::coordinator::pg_rows
