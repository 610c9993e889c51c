// Rendering of moe4ctl results as an aligned table, CSV or JSON, chosen by
// --output. Not thread-safe; one per command.
#pragma once

#include <google/protobuf/message.h>

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace moe4::ctl {

enum class OutputFormat { kTable, kJson, kCsv };

absl::StatusOr<OutputFormat> ParseOutputFormat(const std::string& name);

// Rows of strings under a header; printed aligned (table) or as RFC 4180 CSV.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t size() const { return rows_.size(); }
  void PrintAligned(std::ostream& out) const;
  void PrintCsv(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// The message as JSON with the proto field names (stable for scripts).
std::string ToJson(const google::protobuf::Message& message);

// Percent with one decimal, e.g. 0.8734 -> "87.3%".
std::string Percent(double fraction);

// "[#########-----------] 45%" of the given width.
std::string ProgressBar(double fraction, int width);

// "1h 02m", "3m 20s", "45s".
std::string Duration(double seconds);

}  // namespace moe4::ctl
