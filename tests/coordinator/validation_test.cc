#include "coordinator/service/validation.h"

#include <gtest/gtest.h>

#include <limits>

namespace moe4::coordinator {
namespace {

TEST(ValidationTest, StringsNameTheField) {
  EXPECT_TRUE(CheckString("name", "box3-gpu0", 1, 128, true).ok());
  absl::Status s = CheckString("name", "", 1, 128, true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("name"), absl::string_view::npos);
  EXPECT_FALSE(CheckString("name", "has space", 1, 128, true).ok());
  EXPECT_FALSE(CheckString("name", std::string(129, 'a'), 1, 128, true).ok());
  EXPECT_TRUE(CheckString("reason", "line 1\nline 2\tx", 0, 4096).ok());
  EXPECT_FALSE(CheckString("reason", std::string("a\0b", 3), 0, 4096).ok());
}

TEST(ValidationTest, Numbers) {
  EXPECT_TRUE(CheckRange("epoch", 5, 1, 10).ok());
  EXPECT_FALSE(CheckRange("epoch", 0, 1, 10).ok());
  EXPECT_TRUE(CheckFiniteRange("acc", 0.5, 0, 1).ok());
  EXPECT_FALSE(CheckFiniteRange("acc", 1.5, 0, 1).ok());
  EXPECT_FALSE(CheckFiniteRange("acc", std::numeric_limits<double>::quiet_NaN(), 0, 1).ok());
  EXPECT_FALSE(CheckId("job_id", 0).ok());
  EXPECT_TRUE(CheckId("job_id", 1).ok());
}

}  // namespace
}  // namespace moe4::coordinator
