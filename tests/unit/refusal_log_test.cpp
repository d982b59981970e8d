// RefusalLog: one line per refusal with its reason and who asked; repeats from one source are
// counted, not logged one by one.
#include "relay/router/refusal_log.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace sb::relay {
namespace {

using namespace std::chrono_literals;
using Clock = RefusalLog::Clock;

// Captures what the default logger writes while it lives.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("test", sink);
    logger->set_pattern("%v");
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }
  int lines() const {
    const std::string t = text();
    return static_cast<int>(std::count(t.begin(), t.end(), '\n'));
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

Refusal env_refusal() {
  return {.what = "env",
          .reason = "env variables over the cap",
          .target = "482913075",
          .fingerprint = "SHA256:abc",
          .source = "192.0.2.7",
          .operator_name = "alice",
          .detail = "name \"LC_X\""};
}

TEST(RefusalLog, LineSaysWhatWhyForWhatAndWho) {
  EXPECT_EQ(RefusalLog::format(env_refusal()),
            "refused env \"482913075\" operator=alice fp=SHA256:abc from=192.0.2.7: env "
            "variables over the cap (name \"LC_X\")");
}

TEST(RefusalLog, PeerTextIsQuotedAndEscaped) {
  const char name[] = "482913075\0x fp=SHA256:forged\r\n";
  std::string user(name, sizeof name - 1);
  Refusal refusal{.what = "auth",
                  .reason = "user name is not a session ID or device name",
                  .target = user,
                  .fingerprint = "",
                  .source = "192.0.2.7"};
  EXPECT_EQ(
      RefusalLog::format(refusal),
      "refused auth \"482913075\\x00x fp=SHA256:forged\\r\\n\" fp=- from=192.0.2.7: user name "
      "is not a session ID or device name");
}

TEST(RefusalLog, RepeatsFromOneSourceAreCountedAndSummarised) {
  CapturedLog log;
  RefusalLog refusals(10s);
  const auto t0 = Clock::now();
  for (int i = 0; i < 50; ++i) refusals.log(env_refusal(), t0 + 1ms * i);
  EXPECT_EQ(log.lines(), 1) << log.text();

  Refusal other_source = env_refusal();
  other_source.source = "198.51.100.1";
  refusals.log(other_source, t0);
  EXPECT_EQ(log.lines(), 2) << "another source is another line: " << log.text();

  refusals.summarize(t0 + 11s);
  EXPECT_NE(log.text().find("refused 49 more env from 192.0.2.7: env variables over the cap"),
            std::string::npos)
      << log.text();
  refusals.log(env_refusal(), t0 + 12s);
  EXPECT_EQ(log.text().find("more like it"), std::string::npos)
      << "the summary already told the held ones: " << log.text();
}

TEST(RefusalLog, TheNextLineAfterAnIntervalCarriesTheCount) {
  CapturedLog log;
  RefusalLog refusals(10s);
  const auto t0 = Clock::now();
  for (int i = 0; i < 4; ++i) refusals.log(env_refusal(), t0 + 1s * i);
  refusals.log(env_refusal(), t0 + 10s);
  EXPECT_EQ(log.lines(), 2) << log.text();
  EXPECT_NE(log.text().find("[3 more like it since the last such line]"), std::string::npos)
      << log.text();
}

}  // namespace
}  // namespace sb::relay
