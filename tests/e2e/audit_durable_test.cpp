// Nothing lost from the audit. After kill -9 and a restart, the session that was live, its
// operator's attachment and the exec it was running are each closed with an event saying the
// relay restarted after a crash, the exec with the byte counts stored while it ran.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

using nlohmann::json;

constexpr const char* kRestartedAfterCrash = "relay restarted after a crash";

std::vector<json> events_of_kind(const json& rows, const std::string& kind) {
  std::vector<json> out;
  if (rows.is_array())
    for (const auto& row : rows)
      if (row["kind"] == kind) out.push_back(row);
  return out;
}

// The first channel of the session's first attachment ({} if none yet).
json first_channel_of(const json& story) {
  if (!story.is_object() || story["attachments"].empty()) return json::object();
  const json& channels = story["attachments"][0]["channels"];
  return channels.empty() ? json::object() : channels[0];
}

class AuditDurable : public OperatorTest {
 protected:
  json story() { return relay().admin_json({"session", "show", id_}); }
  json audit() { return relay().admin_json({"audit", "--session", id_, "--limit", "1000"}); }
};

TEST_F(AuditDurable, KillNineThenRestartClosesTheSessionAttachmentAndExecWithTheirBytes) {
  start_device({"alice"});
  auto exec = start_operator_process(ssh("alice", id_, {}, {"echo long-exec-started; sleep 600"}),
                                     [](Process& p) { return contains(p.out(), "started"); });
  ASSERT_TRUE(contains(exec->out(), "long-exec-started")) << exec->err();
  const int printed = static_cast<int>(std::string("long-exec-started\n").size());
  // The relay stores an open channel's byte counts every few seconds.
  EXPECT_TRUE(
      wait_until([&] { return first_channel_of(story()).value("bytes_out", 0) >= printed; }, 15s))
      << story().dump(2);

  relay().kill9();
  relay().restart();

  const json s = story();
  EXPECT_EQ(s["end_reason"], kRestartedAfterCrash) << s.dump(2);
  ASSERT_EQ(s["attachments"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["attachments"][0]["end_reason"], kRestartedAfterCrash);
  const json channel = first_channel_of(s);
  EXPECT_FALSE(channel["ended"].is_null()) << s.dump(2);
  EXPECT_EQ(channel["bytes_out"], printed);

  const json rows = audit();
  auto ended = events_of_kind(rows, "session.ended");
  ASSERT_EQ(ended.size(), 1u) << rows.dump(2);
  EXPECT_EQ(ended[0]["detail"]["reason"], kRestartedAfterCrash);
  auto detached = events_of_kind(rows, "operator.detached");
  ASSERT_EQ(detached.size(), 1u) << rows.dump(2);
  EXPECT_EQ(detached[0]["operator"], "alice");
  EXPECT_EQ(detached[0]["detail"]["reason"], kRestartedAfterCrash);
  auto closed = events_of_kind(rows, "channel.closed");
  ASSERT_EQ(closed.size(), 1u) << rows.dump(2);
  const json& d = closed[0]["detail"];
  EXPECT_EQ(d["kind"], "exec");
  EXPECT_EQ(d["command"], "echo long-exec-started; sleep 600");
  EXPECT_EQ(d["bytes_out"], printed);
  EXPECT_EQ(d["reason"], kRestartedAfterCrash);
  EXPECT_FALSE(d.contains("exit_status")) << "nobody saw the exec end";

  auto text = relay().admin({"session", "show", id_});
  EXPECT_TRUE(contains(text.out, kRestartedAfterCrash)) << text.out;
}

}  // namespace
}  // namespace sb::e2e
