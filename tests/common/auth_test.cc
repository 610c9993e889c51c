#include "common/auth.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace moe4 {
namespace {

std::string WriteTemp(const std::string& content) {
  const std::string path = std::filesystem::temp_directory_path() / ("moe4_token_" + std::to_string(::getpid()) +
                                                                     "_" + std::to_string(rand()));
  std::ofstream(path) << content;
  return path;
}

TEST(AuthTest, ReadsFirstLineTrimmed) {
  const auto path = WriteTemp("  s3cret-token \nsecond line\n");
  auto token = ReadTokenFile(path);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "s3cret-token");
  std::filesystem::remove(path);
}

TEST(AuthTest, ErrorsNameTheFile) {
  auto missing = ReadTokenFile("/nonexistent/moe4/token");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/moe4/token"), std::string::npos);
  const auto empty = WriteTemp("\n");
  auto token = ReadTokenFile(empty);
  ASSERT_FALSE(token.ok());
  EXPECT_NE(token.status().message().find("empty"), std::string::npos);
  std::filesystem::remove(empty);
}

TEST(AuthTest, EnvironmentIsTheFallback) {
  ::setenv("MOE4_TEST_TOKEN_ENV", "from-env", 1);
  auto token = LoadToken("", "MOE4_TEST_TOKEN_ENV");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, "from-env");
  ::unsetenv("MOE4_TEST_TOKEN_ENV");
  auto none = LoadToken("", "MOE4_TEST_TOKEN_ENV");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("MOE4_TEST_TOKEN_ENV"), std::string::npos);
}

TEST(AuthTest, BearerRoundTripAndComparison) {
  EXPECT_EQ(TokenFromBearer(BearerValue("abc")), "abc");
  EXPECT_EQ(TokenFromBearer("Basic abc"), "");
  EXPECT_TRUE(TokensEqual("abc", "abc"));
  EXPECT_FALSE(TokensEqual("abc", "abd"));
  EXPECT_FALSE(TokensEqual("abc", "abcd"));
  EXPECT_FALSE(TokensEqual("", ""));  // an empty token never authenticates
}

}  // namespace
}  // namespace moe4
