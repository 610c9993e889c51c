// JSON for the dashboard API (docs/openapi.yaml): protobuf messages rendered
// by reflection, and the API's response and error shapes. Stateless functions;
// thread-safe.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>

#include "absl/status/status.h"
#include "coordinator/http/http_server.h"
#include "nlohmann/json.hpp"

namespace moe4::coordinator::api {

using json = nlohmann::json;

// Field names as in the .proto; int64 as numbers (ids stay below 2^53), enums
// as short lower-case names, NaN and infinities as null, unset optional
// fields as null, maps as objects.
json ProtoJson(const google::protobuf::Message& m);
// JOB_STATE_RUNNING -> "running".
std::string EnumText(const google::protobuf::EnumValueDescriptor* v);
// NaN and infinities as null.
json Double(double v);

// A JSON answer, never cached by the browser.
HttpResponse Json(int status, const json& body);
// {"error": message}.
HttpResponse Error(int status, const std::string& message);
// A store error as the API's status code; unexpected ones are logged and
// answered 500 without their text.
HttpResponse FromStatus(const absl::Status& s);

}  // namespace moe4::coordinator::api
