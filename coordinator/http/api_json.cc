#include "coordinator/http/api_json.h"

#include <cctype>
#include <cmath>

#include "spdlog/spdlog.h"

namespace moe4::coordinator::api {

namespace pb = google::protobuf;


namespace {

// "JobState" -> "JOB_STATE_".
std::string EnumPrefix(const std::string& type) {
  std::string out;
  for (size_t i = 0; i < type.size(); ++i) {
    if (i > 0 && std::isupper(static_cast<unsigned char>(type[i]))) out += '_';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(type[i])));
  }
  return out + "_";
}

}  // namespace

// JOB_STATE_RUNNING -> "running".
std::string EnumText(const pb::EnumValueDescriptor* v) {
  std::string name = v->name();
  const std::string prefix = EnumPrefix(v->type()->name());
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

json Double(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

namespace {

json FieldValue(const pb::Message& m, const pb::FieldDescriptor* f, int index) {
  const pb::Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32: return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case pb::FieldDescriptor::CPPTYPE_INT64: return rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
    case pb::FieldDescriptor::CPPTYPE_UINT32: return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    // Seeds: full 64 bits, which a JavaScript number cannot hold.
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case pb::FieldDescriptor::CPPTYPE_DOUBLE: return Double(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case pb::FieldDescriptor::CPPTYPE_FLOAT: return Double(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case pb::FieldDescriptor::CPPTYPE_BOOL: return rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f);
    case pb::FieldDescriptor::CPPTYPE_STRING: return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case pb::FieldDescriptor::CPPTYPE_ENUM: return EnumText(rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f));
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return ProtoJson(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
  }
  return nullptr;
}

}  // namespace

// Field names as in the .proto; int64 as numbers (ids stay below 2^53), enums
// as short lower-case names, NaN and infinities as null, unset optional
// fields as null, maps as objects.
json ProtoJson(const pb::Message& m) {
  const pb::Descriptor* d = m.GetDescriptor();
  const pb::Reflection* r = m.GetReflection();
  json out = json::object();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->is_map()) {
      json obj = json::object();
      for (int k = 0; k < r->FieldSize(m, f); ++k) {
        const pb::Message& entry = r->GetRepeatedMessage(m, f, k);
        const pb::FieldDescriptor* key = entry.GetDescriptor()->FindFieldByName("key");
        const pb::FieldDescriptor* value = entry.GetDescriptor()->FindFieldByName("value");
        obj[FieldValue(entry, key, -1).get<std::string>()] = FieldValue(entry, value, -1);
      }
      out[f->name()] = std::move(obj);
    } else if (f->is_repeated()) {
      json arr = json::array();
      for (int k = 0; k < r->FieldSize(m, f); ++k) arr.push_back(FieldValue(m, f, k));
      out[f->name()] = std::move(arr);
    } else if (f->has_presence() && !r->HasField(m, f)) {
      out[f->name()] = nullptr;
    } else {
      out[f->name()] = FieldValue(m, f, -1);
    }
  }
  return out;
}

HttpResponse Json(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  // Database text is whatever it is: never let invalid UTF-8 fail a page.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse Error(int status, const std::string& message) { return Json(status, json{{"error", message}}); }

HttpResponse FromStatus(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kNotFound: return Error(404, std::string(s.message()));
    case absl::StatusCode::kInvalidArgument: return Error(400, std::string(s.message()));
    case absl::StatusCode::kFailedPrecondition: return Error(409, std::string(s.message()));
    case absl::StatusCode::kUnavailable: return Error(503, "database unavailable");
    default:
      spdlog::warn("dashboard: {}", s.ToString());
      return Error(500, "internal error");
  }
}


}  // namespace moe4::coordinator::api
