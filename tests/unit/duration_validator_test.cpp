// The duration check shared by every duration flag of relay, device-agent and operator-cli.
#include "common/cli/duration_validator.hpp"

#include <gtest/gtest.h>

namespace sb {
namespace {

using std::chrono::milliseconds;

// Parses `text` as `--wait TEXT` of a command line whose option uses the validator.
std::string parse(const std::string& text, std::string zero_means = {}) {
  CLI::App app;
  std::string value;
  app.add_option("--wait", value)->check(duration_validator(std::move(zero_means)));
  try {
    app.parse(std::vector<std::string>{text, "--wait"});  // CLI11 takes a reversed vector
  } catch (const CLI::ValidationError& e) {
    return std::string("error: ") + e.what();
  }
  return value;
}

TEST(DurationValidator, AcceptsWhatParseDurationReads) {
  EXPECT_EQ(parse("500ms"), "500ms");
  EXPECT_EQ(parse("1h30m"), "1h30m");
  EXPECT_EQ(checked_duration("1h30m"), milliseconds(90 * 60 * 1000));
}

TEST(DurationValidator, RefusesTyposAndZeroWithTheFlagInTheMessage) {
  EXPECT_EQ(
      parse("30x"),
      "error: --wait: '30x' is not a duration; use e.g. 500ms, 30s, 2m, 1h, 90d, 2w or 1h30m");
  EXPECT_EQ(parse("0").substr(0, 35), "error: --wait: '0' is not a duratio");
  EXPECT_THROW(checked_duration("30x"), std::invalid_argument);
}

TEST(DurationValidator, ZeroOnlyWhereItMeansSomething) {
  EXPECT_EQ(parse("0", "keep forever"), "0");
  EXPECT_EQ(checked_duration("0"), milliseconds(0));
  EXPECT_EQ(parse("forever", "keep forever"),
            "error: --wait: 'forever' is not a duration; use 0 (keep forever) or e.g. 500ms, 30s, "
            "2m, 1h, 90d, 2w or 1h30m");
}

TEST(DurationValidator, HelpShowsTheDefaultAsBefore) {
  CLI::App app;
  std::string value = "15s";
  app.add_option("--wait", value)->check(duration_validator())->capture_default_str();
  EXPECT_NE(app.help().find("--wait TEXT=15s"), std::string::npos) << app.help();
}

}  // namespace
}  // namespace sb
