#include "coordinator/scheduler/pending_reason.h"

#include <gtest/gtest.h>

namespace moe4::coordinator {
namespace {

TEST(PendingReasonTest, Table) {
  struct Case {
    std::vector<PendingGroup> pending;
    std::vector<LiveWorker> live;
    std::string want;
  };
  const std::vector<Case> cases = {
      {{}, {}, ""},
      {{{"", 0, 5}}, {}, "5 pending jobs; no live workers"},
      {{{"", 0, 1}}, {}, "1 pending job; no live workers"},
      {{{"", 0, 5}}, {{"cpu", 0}}, ""},
      {{{"cuda", 0, 3}}, {{"cpu", 0}, {"cpu", 0}},
       "3 pending jobs need device_kind=cuda; live workers: 2 cpu"},
      {{{"cuda", 16000, 2}}, {{"cuda", 8000}},
       "2 pending jobs need device_kind=cuda, min_memory_mb=16000; live workers: 1 cuda (8000 MB)"},
      {{{"cuda", 16000, 2}}, {{"cuda", 24000}}, ""},
      {{{"", 0, 1}, {"cuda", 0, 4}}, {{"cpu", 0}},
       "4 pending jobs need device_kind=cuda; live workers: 1 cpu"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ExplainPending(c.pending, c.live), c.want);
  }
}

}  // namespace
}  // namespace moe4::coordinator
