// Conversions between PostgreSQL text and the moe4 protos, shared by the
// PgJobStore's writes (pg_job_store.cc) and reads (pg_job_store_queries.cc):
// state names, float8 and array literals that read back exactly, JSON
// columns. Pure functions; safe from any thread.
#pragma once

#include <google/protobuf/map.h>
#include <google/protobuf/message.h>
#include <google/protobuf/repeated_field.h>

#include <cstdint>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::coordinator::pg_rows {

// jobs.state and campaigns.state text to the proto enums (UNSPECIFIED for
// text no migration writes).
moe4::v1::JobState JobStateFromText(absl::string_view s);
moe4::v1::CampaignState CampaignStateFromText(absl::string_view s);

// A float8 as Postgres reads it back exactly (including NaN and infinities,
// which a diverging run can report).
std::string Float8Text(double v);
// A float8[] literal ("{0.25,0.5,NaN}") of Float8Text elements.
std::string Float8ArrayLiteral(const google::protobuf::RepeatedField<double>& values);
// A text[] literal with every element quoted and escaped.
std::string TextArrayLiteral(const std::vector<std::string>& values);
// A float8[] column selected as text, appended to `out` (nothing for NULL).
void ParseFloat8Array(const pqxx::field& f, google::protobuf::RepeatedField<double>* out);
// A column selected as array_to_json(x)::text (empty for NULL).
std::vector<std::string> JsonTextArray(const pqxx::field& f);

// A nullable column, or `fallback` when it is NULL.
double DoubleOr(const pqxx::field& f, double fallback = 0);
int64_t Int64Or(const pqxx::field& f, int64_t fallback = 0);

// A proto as the JSON stored in jsonb columns (field names as in the proto)
// and back; unknown fields are ignored, so rows written by a newer
// coordinator still read.
std::string MessageJson(const google::protobuf::Message& m);
absl::Status ParseMessageJson(const std::string& json, google::protobuf::Message* m);

// Per-key counts (EpochMetrics.skipped_images) as a jsonb object's text,
// {"train/cat": 2}; "" for none. And back from a column selected as text:
// nothing for NULL, and only the integer members of an object.
std::string CountsJson(const google::protobuf::Map<std::string, int32_t>& counts);
void ParseCountsJson(const pqxx::field& f, google::protobuf::Map<std::string, int32_t>* out);

// A duration as the float8 seconds make_interval(secs => ...) takes.
double Seconds(absl::Duration d);

// NOT_FOUND naming the campaign.
absl::Status NoCampaign(int64_t id);

}  // namespace moe4::coordinator::pg_rows
