// Rendering of moe4ctl results: aligned tables, CSV, JSON, colours, and the
// small human units (percentages, durations, sparklines) the commands share.
// Pure functions and value types; not thread-safe only in that a Table is
// filled and printed by one command.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::ctl {

enum class OutputFormat { kTable, kJson, kCsv };

absl::StatusOr<OutputFormat> ParseOutputFormat(const std::string& name);

// ANSI colours, or plain text when disabled. Commands colour only table
// output; ForTerminal() decides whether a terminal will show them.
class Style {
 public:
  Style() = default;
  explicit Style(bool enabled) : enabled_(enabled) {}
  // On when `fd` is a terminal, NO_COLOR is unset or empty (no-color.org) and
  // TERM is not "dumb".
  static Style ForTerminal(int fd);

  bool enabled() const { return enabled_; }
  std::string Bold(std::string_view s) const { return Wrap("1", s); }
  std::string Dim(std::string_view s) const { return Wrap("2", s); }
  std::string Red(std::string_view s) const { return Wrap("31", s); }
  std::string Green(std::string_view s) const { return Wrap("32", s); }
  std::string Yellow(std::string_view s) const { return Wrap("33", s); }
  // A job or campaign state name in the colour of its outcome.
  std::string State(std::string_view state) const;

 private:
  std::string Wrap(const char* code, std::string_view s) const;
  bool enabled_ = false;
};

// Columns as a terminal shows them: UTF-8 code points, ANSI colour sequences
// not counted.
size_t DisplayWidth(std::string_view s);

// Rows of strings under a header; printed aligned (table) or as RFC 4180 CSV.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t size() const { return rows_.size(); }
  void PrintAligned(std::ostream& out) const;
  void PrintCsv(std::ostream& out) const;
  // Aligned for kTable, CSV otherwise (JSON is the caller's business).
  void Print(OutputFormat format, std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// The message as JSON with the proto field names (stable for scripts).
std::string ToJson(const google::protobuf::Message& message);
// The same on one line (for one-object-per-line streams).
std::string ToJsonLine(const google::protobuf::Message& message);

// Percent with one decimal, e.g. 0.8734 -> "87.3%"; "-" for NaN.
std::string Percent(double fraction);

// The shortest text that reads back as exactly `value` ("0.1", "1e-06",
// "nan", "inf"): for CSV and other machine-read output.
std::string ExactNumber(double value);

// Fixed-point with `digits` decimals; "-" for NaN.
std::string Fixed(double value, int digits);

// "[#########-----------] 45%" of the given width.
std::string ProgressBar(double fraction, int width);

// "1h 02m", "3m 20s", "45s".
std::string Duration(double seconds);

// "12s ago", "3m ago", "2h ago", "4d ago" from a Unix time in ms; "never" for 0.
std::string Ago(int64_t unix_ms, int64_t now_unix_ms);

// One block character per value (▁▂▃▄▅▆▇█), scaled from the smallest to the
// largest finite value; a flat series is drawn at mid height, NaN as a space.
std::string Sparkline(const std::vector<double>& values);

// A bar of `width` cells for fraction in [0, 1], in eighths (█▉▊▋▌▍▎▏).
std::string Bar(double fraction, int width);

std::string_view CampaignStateName(moe4::v1::CampaignState state);
std::string_view JobStateName(moe4::v1::JobState state);
// JOB_STATE_UNSPECIFIED for an unknown name.
moe4::v1::JobState JobStateFromName(std::string_view name);

}  // namespace moe4::ctl
