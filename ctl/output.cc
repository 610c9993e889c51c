#include "ctl/output.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace moe4::ctl {

absl::StatusOr<OutputFormat> ParseOutputFormat(const std::string& name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "json") return OutputFormat::kJson;
  if (name == "csv") return OutputFormat::kCsv;
  return absl::InvalidArgumentError(absl::StrCat("--output: unknown format \"", name, "\" (expected table, json or csv)"));
}

Style Style::ForTerminal(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return Style(false);
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::strcmp(term, "dumb") == 0) return Style(false);
  return Style(isatty(fd) == 1);
}

std::string Style::Wrap(const char* code, std::string_view s) const {
  if (!enabled_ || s.empty()) return std::string(s);
  return absl::StrCat("\x1b[", code, "m", std::string(s), "\x1b[0m");
}

std::string Style::State(std::string_view state) const {
  if (state == "succeeded" || state == "done") return Green(state);
  if (state == "failed" || state == "cancelled") return Red(state);
  if (state == "running" || state == "leased" || state == "paused") return Yellow(state);
  return std::string(state);
}

size_t DisplayWidth(std::string_view s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b && i + 1 < s.size() && s[i + 1] == '[') {
      // CSI ... final byte in 0x40..0x7e: zero width.
      i += 2;
      while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e)) ++i;
      continue;
    }
    if ((c & 0xc0) != 0x80) ++width;  // count lead bytes only
  }
  return width;
}

void Table::PrintAligned(std::ostream& out) const {
  std::vector<size_t> widths(header_.size());
  for (size_t c = 0; c < header_.size(); ++c) widths[c] = DisplayWidth(header_[c]);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) widths[c] = std::max(widths[c], DisplayWidth(row[c]));
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < widths.size(); ++c) {
      const std::string& cell = c < row.size() ? row[c] : "";
      line += cell;
      if (c + 1 < widths.size()) line += std::string(widths[c] - DisplayWidth(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  print_row(header_);
  for (const auto& row : rows_) print_row(row);
}

void Table::PrintCsv(std::ostream& out) const {
  auto cell = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string quoted = "\"";
    for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
  };
  auto print_row = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size(); ++c) out << (c ? "," : "") << cell(row[c]);
    out << "\n";
  };
  print_row(header_);
  for (const auto& row : rows_) print_row(row);
}

void Table::Print(OutputFormat format, std::ostream& out) const {
  format == OutputFormat::kTable ? PrintAligned(out) : PrintCsv(out);
}

namespace {

std::string Json(const google::protobuf::Message& message, bool whitespace) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = whitespace;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) { return Json(message, true); }

std::string ToJsonLine(const google::protobuf::Message& message) { return Json(message, false) + "\n"; }

std::string Percent(double fraction) {
  if (std::isnan(fraction)) return "-";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f%%", 100.0 * fraction);
  return buffer;
}

std::string ExactNumber(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string Fixed(double value, int digits) {
  if (std::isnan(value)) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string ProgressBar(double fraction, int width) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(std::round(fraction * width));
  return absl::StrCat("[", std::string(filled, '#'), std::string(width - filled, '-'), "] ",
                      static_cast<int>(std::round(100 * fraction)), "%");
}

std::string Duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buffer[32];
  if (s >= 3600) std::snprintf(buffer, sizeof buffer, "%ldh %02ldm", s / 3600, (s % 3600) / 60);
  else if (s >= 60) std::snprintf(buffer, sizeof buffer, "%ldm %02lds", s / 60, s % 60);
  else std::snprintf(buffer, sizeof buffer, "%lds", s);
  return buffer;
}

std::string Ago(int64_t unix_ms, int64_t now_unix_ms) {
  if (unix_ms <= 0) return "never";
  const int64_t s = std::max<int64_t>(0, (now_unix_ms - unix_ms) / 1000);
  if (s < 60) return absl::StrCat(s, "s ago");
  if (s < 3600) return absl::StrCat(s / 60, "m ago");
  if (s < 86400) return absl::StrCat(s / 3600, "h ago");
  return absl::StrCat(s / 86400, "d ago");
}

std::string Sparkline(const std::vector<double>& values) {
  static constexpr const char* kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  std::string out;
  for (double v : values) {
    if (!std::isfinite(v)) {
      out += ' ';
    } else if (hi - lo < 1e-12) {
      out += kBlocks[3];
    } else {
      const int level = static_cast<int>(std::lround((v - lo) / (hi - lo) * 7));
      out += kBlocks[std::clamp(level, 0, 7)];
    }
  }
  return out;
}

std::string Bar(double fraction, int width) {
  static constexpr const char* kEighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  if (!std::isfinite(fraction)) fraction = 0;
  const int eighths = static_cast<int>(std::lround(std::clamp(fraction, 0.0, 1.0) * width * 8));
  std::string out;
  for (int i = 0; i < eighths / 8; ++i) out += "█";
  out += kEighths[eighths % 8];
  return out;
}

std::string_view CampaignStateName(moe4::v1::CampaignState state) {
  switch (state) {
    case moe4::v1::CAMPAIGN_STATE_ACTIVE: return "active";
    case moe4::v1::CAMPAIGN_STATE_PAUSED: return "paused";
    case moe4::v1::CAMPAIGN_STATE_CANCELLED: return "cancelled";
    case moe4::v1::CAMPAIGN_STATE_DONE: return "done";
    default: return "unknown";
  }
}

std::string_view JobStateName(moe4::v1::JobState state) {
  switch (state) {
    case moe4::v1::JOB_STATE_PENDING: return "pending";
    case moe4::v1::JOB_STATE_LEASED: return "leased";
    case moe4::v1::JOB_STATE_RUNNING: return "running";
    case moe4::v1::JOB_STATE_SUCCEEDED: return "succeeded";
    case moe4::v1::JOB_STATE_FAILED: return "failed";
    case moe4::v1::JOB_STATE_CANCELLED: return "cancelled";
    case moe4::v1::JOB_STATE_WAITING: return "waiting";
    case moe4::v1::JOB_STATE_STOPPED: return "stopped";
    default: return "unknown";
  }
}

moe4::v1::JobState JobStateFromName(std::string_view name) {
  for (auto state : {moe4::v1::JOB_STATE_PENDING, moe4::v1::JOB_STATE_LEASED, moe4::v1::JOB_STATE_RUNNING,
                     moe4::v1::JOB_STATE_SUCCEEDED, moe4::v1::JOB_STATE_FAILED, moe4::v1::JOB_STATE_CANCELLED,
                     moe4::v1::JOB_STATE_WAITING, moe4::v1::JOB_STATE_STOPPED}) {
    if (JobStateName(state) == name) return state;
  }
  return moe4::v1::JOB_STATE_UNSPECIFIED;
}

}  // namespace moe4::ctl
