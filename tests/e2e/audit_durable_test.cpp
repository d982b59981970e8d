// Nothing lost from the audit. After kill -9 and a restart, the session that was live, its
// operator's attachment and the exec it was running are each closed with an event saying the
// relay restarted after a crash, the exec with the byte counts stored while it ran. With the
// disk "full" (the relay's RLIMIT_FSIZE lowered to one byte from outside, with prlimit: every
// write to a file fails, as on a full disk, and the relay ignores SIGXFSZ) an exec and a
// private shell keep working; once there is room again everything the store kept is written,
// with an event for the outage, and the shell's recording, which could not be written, is
// marked so (and left no empty file).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstring>
#include <filesystem>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;
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

// The relay's file size limit, set from outside (prlimit(2), as `prlimit --pid` does).
class RelayFileSizeLimit {
 public:
  RelayFileSizeLimit(pid_t pid, rlim_t bytes) : pid_(pid) {
    rlimit limit{};
    EXPECT_EQ(::prlimit(pid_, RLIMIT_FSIZE, nullptr, &old_), 0);
    limit = old_;
    limit.rlim_cur = bytes;
    EXPECT_EQ(::prlimit(pid_, RLIMIT_FSIZE, &limit, nullptr), 0) << std::strerror(errno);
  }
  ~RelayFileSizeLimit() { lift(); }
  RelayFileSizeLimit(const RelayFileSizeLimit&) = delete;
  RelayFileSizeLimit& operator=(const RelayFileSizeLimit&) = delete;
  void lift() { ::prlimit(pid_, RLIMIT_FSIZE, &old_, nullptr); }

 private:
  pid_t pid_;
  rlimit old_{};
};

TEST_F(AuditDurable, WhileTheDiskIsFullExecsAndShellsWorkAndTheAuditIsWrittenOnceThereIsRoom) {
  start_device({"alice"});
  ASSERT_TRUE(wait_until([&] { return !find_by(relay().sessions(true), "id", id_).is_null(); }));
  {
    RelayFileSizeLimit full(relay().process().pid(), 1);
    auto r = exec("alice", "printf during-full; exit 7");
    EXPECT_EQ(r.exit_code, 7) << r.err;
    EXPECT_EQ(r.out, "during-full");

    auto shell = start_operator_process(ssh("alice", id_ + "+own", {"-tt"}),
                                        [](Process& t) { return !t.out().empty(); });
    shell->write_stdin("echo SHELL-$((6*7))\n");
    EXPECT_TRUE(shell->wait_for_output("SHELL-42", 8s)) << shell->out() << shell->err();
    shell->write_stdin("exit\n");
    EXPECT_TRUE(shell->wait(8s)) << shell->err();

    EXPECT_TRUE(relay().process().wait_for_output("the disk refused", 10s, true))
        << relay().process().err();
    EXPECT_TRUE(relay().process().running()) << relay().process().err();
    // Nothing of it is written yet.
    EXPECT_TRUE(events_of_kind(audit(), "channel.closed").empty()) << audit().dump(2);
  }  // room again

  json rows;
  ASSERT_TRUE(wait_until(
      [&] {
        rows = audit();
        return events_of_kind(rows, "operator.detached").size() == 2 &&
               events_of_kind(rows, "recording.stopped").size() == 1 &&
               events_of_kind(rows, "channel.closed").size() == 2;
      },
      15s))
      << rows.dump(2);
  // The outage itself, once (it concerns no session).
  const json outage = relay().admin_json({"audit", "--kind", "store"});
  ASSERT_EQ(events_of_kind(outage, "store.write_failed").size(), 1u) << outage.dump(2);
  EXPECT_TRUE(events_of_kind(outage, "store.dropped").empty()) << outage.dump(2);
  auto closed = events_of_kind(rows, "channel.closed");
  ASSERT_EQ(closed.size(), 2u) << rows.dump(2);
  const json& exec_closed = closed.back()["detail"]["kind"] == "exec" ? closed.back() : closed[0];
  EXPECT_EQ(exec_closed["detail"]["exit_status"], 7) << rows.dump(2);
  EXPECT_EQ(exec_closed["detail"]["bytes_out"], 11);
  auto recording = events_of_kind(rows, "recording.stopped")[0]["detail"];
  EXPECT_EQ(recording["failed"], "File too large") << recording.dump(2);
  EXPECT_EQ(recording["kept"], false);

  const json s = story();
  ASSERT_EQ(s["attachments"].size(), 2u) << s.dump(2);
  for (const auto& a : s["attachments"]) {
    ASSERT_EQ(a["channels"].size(), 1u) << s.dump(2);
    EXPECT_FALSE(a["channels"][0]["ended"].is_null());
  }
  ASSERT_EQ(s["recordings"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["recordings"][0]["failed"], "File too large");
  auto text = relay().admin({"session", "show", id_});
  EXPECT_TRUE(contains(text.out, "FAILED: File too large")) << text.out;

  // No empty recording was left behind.
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(relay().data_dir() / "recordings", ec))
    if (e.is_regular_file()) ADD_FAILURE() << "left behind: " << e.path();
}

}  // namespace
}  // namespace sb::e2e
