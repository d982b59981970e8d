// The admin CLI's audit views (relay/audit_view.cpp): one readable DETAIL per event, the
// `relay audit` table with its REC mark and paging footer, and the stories as text and JSON.
#include "relay/admin/audit_view.hpp"
#include "relay/admin/row_json.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <sstream>
#include <string>

#include "test_support.hpp"

namespace sb::relay {
namespace {

using nlohmann::json;
using store::AuditRow;

// Local time is UTC for these tests, so times print as stored.
class AuditView : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tz = ::getenv("TZ");
    had_tz_ = tz != nullptr;
    if (had_tz_) old_tz_ = tz;
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
  void TearDown() override {
    if (had_tz_) {
      ::setenv("TZ", old_tz_.c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  static AuditRow row(const std::string& kind, json detail) {
    AuditRow r;
    r.id = 7;
    r.time = test::utc("2026-11-22T14:30:05.123Z");
    r.kind = kind;
    r.detail = std::move(detail);
    r.session = r.detail.value("session", "");
    r.device = r.detail.value("device", "");
    r.operator_name = r.detail.value("operator", "");
    return r;
  }
  bool had_tz_ = false;
  std::string old_tz_;
};

TEST_F(AuditView, DescribesChannelsAttachmentsAndConsent) {
  EXPECT_EQ(describe_event(row("channel.closed", {{"kind", "exec"},
                                                  {"command", "uname -a"},
                                                  {"exit_status", 0},
                                                  {"bytes_in", 1229},
                                                  {"bytes_out", 3482},
                                                  {"duration_ms", 412}})),
            "exec \"uname -a\" → exit 0 · 1.2 KiB in / 3.4 KiB out · 0.4 s");
  EXPECT_EQ(describe_event(row("channel.closed", {{"kind", "proxy"},
                                                  {"target", "10.1.2.3:443"},
                                                  {"bytes_in", 10},
                                                  {"bytes_out", 5 << 20},
                                                  {"duration_ms", 192000}})),
            "proxy \"10.1.2.3:443\" · 10 B in / 5.0 MiB out · 3 m 12 s");
  EXPECT_EQ(describe_event(row("channel.closed",
                               {{"kind", "shell"}, {"exit_signal", "KILL"}, {"bytes_in", 1}})),
            "shell → signal KILL · 1 B in / 0 B out");
  EXPECT_EQ(describe_event(
                row("operator.attached", {{"mode", "shared"}, {"source_addr", "10.0.0.5:51234"}})),
            "attached shared from 10.0.0.5:51234");
  EXPECT_EQ(describe_event(
                row("operator.detached", {{"reason", "client closed"}, {"duration_ms", 7530000}})),
            "detached: client closed after 2 h 05 m");
  EXPECT_EQ(describe_event(row("consent.answered", {{"capability", "shell"}, {"allow", true}})),
            "consent shell: allowed");
  EXPECT_EQ(describe_event(row("consent.answered", {{"capability", "exec"}, {"allow", false}})),
            "consent exec: declined");
  EXPECT_EQ(describe_event(row("session.ended", {{"reason", "tunnel dropped"}})),
            "ended: tunnel dropped");
  EXPECT_EQ(describe_event(
                row("auth.refused", {{"reason", "unknown key"}, {"source_addr", "192.0.2.1:5"}})),
            "refused: unknown key from 192.0.2.1:5");
  // Unknown kinds show their detail, without the columns already shown.
  EXPECT_EQ(describe_event(row("enroll.created", {{"name", "web-01"}, {"session", "1"}})),
            "name=web-01");
}

TEST_F(AuditView, SftpChannelsShowTheFilesTheyNamed) {
  json one{{"kind", "subsystem"},
           {"command", "sftp"},
           {"exit_status", 0},
           {"bytes_in", 50 << 20},
           {"bytes_out", 2048},
           {"duration_ms", 1100},
           {"files", {{{"op", "write"}, {"path", "/tmp/report.pdf"}}}}};
  EXPECT_EQ(describe_event(row("channel.closed", one)),
            "subsystem \"sftp\" → exit 0 · 50.0 MiB in / 2.0 KiB out · 1.1 s · write "
            "/tmp/report.pdf");
  json many = one;
  many["files"] = {{{"op", "rename"}, {"path", "/a"}, {"to", "/b"}},
                   {{"op", "remove"}, {"path", "/c"}}};
  many["files_more"] = 10;
  many["files_incomplete"] = true;
  EXPECT_TRUE(describe_event(row("channel.closed", many))
                  .ends_with(" · rename /a → /b, remove /c (12 names) (names incomplete)"))
      << describe_event(row("channel.closed", many));
  // Many long names are cut like any long text.
  json lots = one;
  lots["files"] = json::array();
  for (int i = 0; i < 40; ++i)
    lots["files"].push_back(
        {{"op", "read"}, {"path", "/var/log/some/long/path/" + std::to_string(i)}});
  const std::string text = describe_event(row("channel.closed", lots));
  EXPECT_TRUE(text.ends_with("… (40 names)")) << text;
  EXPECT_LT(text.size(), 200u) << text;
}

TEST_F(AuditView, LongCommandsAreCut) {
  const std::string cmd(200, 'x');
  const std::string text =
      describe_event(row("channel.closed", {{"kind", "exec"}, {"command", cmd}}));
  EXPECT_NE(text.find("\"" + std::string(59, 'x') + "…\""), std::string::npos) << text;
  EXPECT_EQ(text.find(std::string(60, 'x')), std::string::npos);
}

TEST_F(AuditView, TableShowsLocalTimesRecMarkAndFooter) {
  store::AuditPage page;
  page.total = 31;
  page.page = 2;
  page.pages = 7;
  auto a = row("operator.attached", {{"session", "482913075"},
                                     {"device", "web-01"},
                                     {"operator", "alice"},
                                     {"mode", "shared"},
                                     {"source_addr", "10.0.0.5:51234"}});
  a.recorded = true;
  auto b = row("auth.refused", {{"reason", "bad\x1b[31mkey"}});
  page.rows = {a, b};
  std::ostringstream out;
  print_audit_table(page, out);
  std::istringstream in(out.str());
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 4u) << out.str();
  EXPECT_EQ(lines[0].rfind("TIME                 KIND               SESSION", 0), 0u) << lines[0];
  EXPECT_NE(lines[1].find("2026-11-22 14:30:05  operator.attached  482 913 075 REC  web-01  "
                          "alice     attached shared from 10.0.0.5:51234"),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[2].find("refused: bad?[31mkey"), std::string::npos) << lines[2];  // no ESC
  EXPECT_EQ(lines[3], "page 2 of 7 (31 rows); next: --page 3");

  page.page = 7;
  std::ostringstream last;
  print_audit_table(page, last);
  EXPECT_NE(last.str().find("page 7 of 7 (31 rows)\n"), std::string::npos);
  EXPECT_EQ(last.str().find("next"), std::string::npos);

  std::ostringstream none;
  print_audit_table({}, none);
  EXPECT_EQ(none.str(), "No events match.\n");
}

TEST_F(AuditView, JsonRowKeepsUtcAndRawDetail) {
  auto r = row("consent.answered", {{"session", "482913075"}, {"allow", true}});
  r.actor = "bob";
  const json j = r;
  EXPECT_EQ(j["id"], 7);
  EXPECT_EQ(j["time"], "2026-11-22T14:30:05.123Z");
  EXPECT_EQ(j["session"], "482913075");
  EXPECT_TRUE(j["device"].is_null());
  EXPECT_EQ(j["actor"], "bob");
  EXPECT_EQ(j["detail"]["allow"], true);
}

TEST_F(AuditView, SessionStoryNestsChannelsUnderAttachments) {
  store::SessionStory story;
  story.session.id = "482913075";
  story.session.fingerprint = "SHA256:dev";
  story.session.kind = "adhoc";
  story.session.source_addr = "192.0.2.7:40000";
  story.session.started = test::utc("2026-11-22T14:00:00.000Z");
  story.session.ended = test::utc("2026-11-22T14:32:06.000Z");
  story.session.end_reason = "agent closed";
  store::AttachmentRow a;
  a.id = 3;
  a.operator_name = "alice";
  a.fingerprint = "SHA256:alice";
  a.mode = "own";
  a.source_addr = "10.0.0.5:51234";
  a.started = test::utc("2026-11-22T14:01:00.000Z");
  a.ended = test::utc("2026-11-22T14:10:00.000Z");
  store::ChannelRow c;
  c.id = 9;
  c.kind = "exec";
  c.command = "uname -a";
  c.exit_status = 0;
  c.bytes_in = 12;
  c.bytes_out = 2048;
  c.started = test::utc("2026-11-22T14:02:00.000Z");
  c.ended = test::utc("2026-11-22T14:02:00.400Z");
  a.channels.push_back(c);
  story.attachments.push_back(a);
  story.recordings.push_back({"recordings/482913075/x_own-alice.cast", "own", "alice",
                              test::utc("2026-11-22T14:01:00.000Z")});
  std::ostringstream out;
  print_session_story(story, out);
  const std::string text = out.str();
  EXPECT_NE(text.find("Session 482 913 075 (ended)"), std::string::npos) << text;
  EXPECT_NE(text.find("ended:    2026-11-22 14:32:06 (after 32 m 06 s; agent closed)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("#3 alice own from 10.0.0.5:51234"), std::string::npos) << text;
  EXPECT_NE(text.find("channel #9 2026-11-22 14:02:00  exec \"uname -a\" → exit 0 · 12 B in / "
                      "2.0 KiB out · 0.4 s"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("replay: relay replay recordings/482913075/x_own-alice.cast"),
            std::string::npos)
      << text;
  const json j = story;
  EXPECT_EQ(j["attachments"][0]["channels"][0]["command"], "uname -a");
  EXPECT_EQ(j["attachments"][0]["channels"][0]["exit_status"], 0);
  EXPECT_EQ(j["recordings"][0]["kind"], "own");
  EXPECT_EQ(j["active"], false);
}

}  // namespace
}  // namespace sb::relay
