#include "common/env_rules.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sb {
namespace {

TEST(EnvRules, LocaleAndDisplayNamesPass) {
  for (const char* name : {"LANG", "TERM", "COLORTERM", "TZ", "LC_ALL", "LC_CTYPE", "LC_PAPER_"}) {
    EXPECT_TRUE(env_name_allowed(name)) << name;
  }
}

TEST(EnvRules, EverythingElseIsRefused) {
  for (const char* name : {"", "PATH", "LD_PRELOAD", "BASH_ENV", "HOME", "LC_", "LC_all",
                           "LC_ALL;id", "LC_ALL=x", "LC_1", "lang", "TERMINFO", "TZDIR"}) {
    EXPECT_FALSE(env_name_allowed(name)) << name;
  }
}

TEST(EnvRules, NamesAreBounded) {
  EXPECT_TRUE(env_name_allowed("LC_" + std::string(kMaxEnvName - 3, 'A')));
  EXPECT_FALSE(env_name_allowed("LC_" + std::string(kMaxEnvName - 2, 'A')));
}

TEST(EnvRules, ValuesArePrintableAndBounded) {
  EXPECT_TRUE(env_value_allowed(""));
  EXPECT_TRUE(env_value_allowed("en_US.UTF-8"));
  EXPECT_TRUE(env_value_allowed("Europe/Zürich"));
  EXPECT_TRUE(env_value_allowed(std::string(kMaxEnvValue, 'x')));
  EXPECT_FALSE(env_value_allowed(std::string(kMaxEnvValue + 1, 'x')));
  EXPECT_FALSE(env_value_allowed("xterm\n"));
  EXPECT_FALSE(env_value_allowed("\x1b]0;title\x07"));
  EXPECT_FALSE(
      env_value_allowed("a\xc2\x9b"
                        "31m"));  // C1 CSI
}

}  // namespace
}  // namespace sb
