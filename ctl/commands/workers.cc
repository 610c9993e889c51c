// moe4ctl workers: every worker the coordinator knows, with what it runs.
#include <chrono>

#include "absl/strings/str_cat.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"

namespace moe4::ctl {

int Workers(const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::ListWorkersRequest request;
  moe4::v1::ListWorkersResponse response;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::ListWorkers, request, &response, "workers"))) {
    return code;
  }
  if (env.format == OutputFormat::kJson) {
    *env.out << ToJson(response);
    return kExitOk;
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const bool csv = env.format == OutputFormat::kCsv;
  Table table({"ID", "NAME", "DEVICE", "MEMORY", "JOB", "LAST HEARTBEAT", "ALIVE"});
  for (const auto& w : response.workers()) {
    std::string device = w.device_kind();
    if (!w.device_name().empty()) absl::StrAppend(&device, " (", w.device_name(), ")");
    table.AddRow({std::to_string(w.worker_id()), w.name(), device,
                  w.device_memory_mb() > 0 ? absl::StrCat(w.device_memory_mb(), " MB") : "-",
                  w.current_job_id() > 0 ? std::to_string(w.current_job_id()) : "-",
                  // CSV is for machines: the timestamp, not a relative time.
                  csv ? std::to_string(w.last_heartbeat_unix_ms()) : Ago(w.last_heartbeat_unix_ms(), now_ms),
                  w.alive() ? env.style.Green("yes") : env.style.Red("no")});
  }
  table.Print(env.format, *env.out);
  return kExitOk;
}

}  // namespace moe4::ctl
