// moe4ctl list | status ID | cancel ID | pause ID | resume ID.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "ctl/commands.h"
#include "ctl/commands/rpc.h"
#include "ctl/commands/status_view.h"

namespace moe4::ctl {

int List(const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::ListRequest request;
  request.set_limit(1000);
  moe4::v1::ListResponse response;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::List, request, &response, "list"))) return code;
  if (env.format == OutputFormat::kJson) {
    *env.out << ToJson(response);
    return kExitOk;
  }
  Table table({"ID", "NAME", "STATE", "K", "SAMPLER", "CATALOGUE", "JOBS", "DONE", "FAILED", "BEST"});
  for (const auto& c : response.campaigns()) {
    table.AddRow({std::to_string(c.campaign_id()), c.name(), env.style.State(CampaignStateName(c.state())),
                  std::to_string(c.k()), c.sampler(), c.catalogue(), std::to_string(c.budget()), std::to_string(c.succeeded()),
                  std::to_string(c.failed()), c.succeeded() > 0 ? Percent(c.best_test_accuracy()) : "-"});
  }
  table.Print(env.format, *env.out);
  return kExitOk;
}

int Status(int64_t campaign_id, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::GetRequest request;
  request.set_campaign_id(campaign_id);
  moe4::v1::GetResponse response;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::Get, request, &response,
                           absl::StrCat("status ", campaign_id)))) {
    return code;
  }
  if (env.format == OutputFormat::kJson) {
    *env.out << ToJson(response);
  } else if (env.format == OutputFormat::kCsv) {
    PrintStatusCounts(response, env.format, env.style, *env.out);
  } else {
    PrintStatusView(response, env.style, *env.out);
  }
  return kExitOk;
}

int Cancel(int64_t campaign_id, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::CancelRequest request;
  request.set_campaign_id(campaign_id);
  moe4::v1::CancelResponse response;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::Cancel, request, &response,
                           absl::StrCat("cancel ", campaign_id)))) {
    return code;
  }
  if (env.format == OutputFormat::kJson) {
    *env.out << ToJson(response);
  } else {
    *env.out << "campaign " << campaign_id << " cancelled: " << response.jobs_cancelled()
             << " unfinished jobs cancelled; running ones stop at their next heartbeat\n";
  }
  return kExitOk;
}

int Pause(int64_t campaign_id, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::PauseRequest request;
  request.set_campaign_id(campaign_id);
  moe4::v1::PauseResponse response;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::Pause, request, &response,
                           absl::StrCat("pause ", campaign_id)))) {
    return code;
  }
  if (env.format == OutputFormat::kJson) {
    *env.out << ToJson(response);
  } else {
    *env.out << "campaign " << campaign_id
             << " paused: no new leases; running jobs go back to pending at their next heartbeat\n";
  }
  return kExitOk;
}

int Resume(int64_t campaign_id, const CommandEnv& env) {
  int code = kExitOk;
  auto client = CampaignClient::Open(env.connection, &code);
  if (!client) return code;
  moe4::v1::ResumeRequest request;
  request.set_campaign_id(campaign_id);
  moe4::v1::ResumeResponse response;
  if ((code = client->Call(&moe4::v1::CampaignService::Stub::Resume, request, &response,
                           absl::StrCat("resume ", campaign_id)))) {
    return code;
  }
  if (env.format == OutputFormat::kJson) {
    *env.out << ToJson(response);
  } else {
    *env.out << "campaign " << campaign_id << " resumed\n";
  }
  return kExitOk;
}

}  // namespace moe4::ctl
