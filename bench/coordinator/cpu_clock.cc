#include "bench/coordinator/cpu_clock.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace moe4::bench {
namespace {

// The fields of /proc/PID/stat after "(comm)", so that field 3 (state) is
// index 0. comm may hold spaces and parentheses: split after its last ')'.
std::optional<std::vector<std::string>> StatFields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields{std::istream_iterator<std::string>(rest), std::istream_iterator<std::string>()};
  if (fields.size() < 13) return std::nullopt;
  return fields;
}

double TicksPerSecond() {
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return ticks;
}

}  // namespace

std::optional<double> ProcessCpuSeconds(pid_t pid) {
  auto f = StatFields(pid);
  if (!f) return std::nullopt;
  // stat(5): utime is field 14, stime field 15 -> indexes 11 and 12 here.
  return (std::strtod((*f)[11].c_str(), nullptr) + std::strtod((*f)[12].c_str(), nullptr)) / TicksPerSecond();
}

std::optional<pid_t> ParentPid(pid_t pid) {
  auto f = StatFields(pid);
  if (!f) return std::nullopt;
  return static_cast<pid_t>(std::strtol((*f)[1].c_str(), nullptr, 10));  // field 4
}

std::optional<double> ProcessTreeCpuSeconds(pid_t root) {
  std::optional<double> total = ProcessCpuSeconds(root);
  if (!total) return std::nullopt;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return std::nullopt;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    if (ParentPid(static_cast<pid_t>(pid)) != root) continue;
    if (auto cpu = ProcessCpuSeconds(static_cast<pid_t>(pid))) *total += *cpu;
  }
  closedir(dir);
  return total;
}

std::optional<MachineCpu> ReadMachineCpu() {
  std::ifstream in("/proc/stat");
  std::string label;
  in >> label;
  if (label != "cpu") return std::nullopt;
  // user nice system idle iowait irq softirq steal (guest time is inside user).
  std::vector<double> ticks;
  for (int i = 0; i < 8; ++i) {
    double v = 0;
    if (!(in >> v)) return std::nullopt;
    ticks.push_back(v);
  }
  MachineCpu out;
  for (double v : ticks) out.total += v;
  out.busy = out.total - ticks[3] - ticks[4];
  out.total /= TicksPerSecond();
  out.busy /= TicksPerSecond();
  return out;
}

}  // namespace moe4::bench
