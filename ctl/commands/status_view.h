// The status of a campaign as `status` prints it and `watch` redraws it.
// Pure rendering; safe to call from any thread.
#pragma once

#include <ostream>
#include <string>

#include "ctl/output.h"
#include "moe4/v1/moe4.pb.h"

namespace moe4::ctl {

// The human view: a header line ("campaign 1 \"name\": active, ..."; scripts
// grep its ": done," / ": cancelled,"), progress with ETA, workers, why jobs
// wait, and job counts by state.
void PrintStatusView(const moe4::v1::GetResponse& response, const Style& style, std::ostream& out);

// The job counts by state as a STATE,JOBS table.
void PrintStatusCounts(const moe4::v1::GetResponse& response, OutputFormat format, const Style& style,
                       std::ostream& out);

// "schedule asha: rungs at 1, 3, 9 epochs (min 1, max 9), reduction factor
// 3, promoted by validation_accuracy", or the full schedule's epochs.
std::string ScheduleLine(const moe4::v1::CampaignSummary& campaign);

// An asha campaign's rungs (GetResponse.rungs) as a table: candidates per
// rung, promoted, stopped, the promotion threshold now.
void PrintRungs(const moe4::v1::GetResponse& response, OutputFormat format, const Style& style, std::ostream& out);

// One line for a log: "campaign 1: active, 6/20 epochs (30%), 3 succeeded, ...".
std::string StatusLine(const moe4::v1::GetResponse& response);

}  // namespace moe4::ctl
