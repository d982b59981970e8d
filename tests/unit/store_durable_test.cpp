// What the audit keeps through a full disk and a crash: a batch the disk refuses (simulated by
// testing::DiskFull, which fails SQLite's writes with SQLITE_FULL) is kept, retried and written
// in order once there is room, past the queue's cap new jobs are dropped and counted, a job's
// effects outside the database happen once, after its commit; and what a crash left open is
// closed at the next start with one event per session, attachment and channel.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "relay/router/channel_progress.hpp"
#include "relay/store/store.hpp"
#include "relay/store/testing.hpp"
#include "test_support.hpp"

namespace sb::store {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using sb::test::at;

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  while (!cond()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

AttachmentStart attachment(std::int64_t id) {
  return {id, "482913075", "alice", "SHA256:alice", "shared", "10.0.0.7", at(1000)};
}

void post_event(Store& store, const char* kind, int n) {
  store.post([kind, n](Db& db) { db.add_event(EventKind(kind), "", {{"n", n}}, at(2000 + n)); });
}

class DiskFullStore : public ::testing::Test {
 protected:
  void SetUp() override {
    Db::open(file_, true)
        ->insert_session({"482913075", "", "SHA256:dev", "ssh-ed25519 AAAA", "adhoc", "127.0.0.1",
                          at(0), nlohmann::json::object()});
  }
  std::int64_t scalar(const std::string& sql) { return testing::RawSql(file_).scalar(sql); }
  std::string text(const std::string& sql) { return testing::RawSql(file_).text(sql); }
  // Waits until the writer has been refused `attempts` more times.
  bool refused_again(int attempts = 1) {
    const std::uint64_t seen = disk_.refused();
    return wait_until([&] { return disk_.refused() >= seen + attempts; });
  }

  test::TempDir dir_;
  std::filesystem::path file_ = dir_.path() / "relay.db";
  testing::DiskFull disk_;  // before any connection opens: they all go through it
};

TEST_F(DiskFullStore, RefusedBatchIsKeptRetriedAndWrittenInOrderOnceThereIsRoom) {
  Store store(file_);
  disk_.set(true);
  store.post([](Db& db) {
    db.insert_attachment(attachment(7));
    db.add_event(events::kOperatorAttached, "alice", {{"session", "482913075"}}, at(1000));
  });
  ASSERT_TRUE(refused_again()) << "the disk was never asked";
  ASSERT_TRUE(refused_again()) << "the refused batch was not tried again";
  // Rows that refer to the one still waiting: they must not be written before it.
  store.post([](Db& db) { db.insert_channel({11, 7, "exec", "", "uname -a", at(1100)}); });
  store.post([](Db& db) {
    db.end_channel({11, 0, "", 5, 1234, at(1200)});
    db.add_event(events::kChannelClosed, "alice", {{"session", "482913075"}}, at(1200));
  });
  ASSERT_TRUE(refused_again());
  disk_.set(false);
  store.flush();

  EXPECT_EQ(scalar("SELECT count(*) FROM attachments WHERE id = 7"), 1);
  EXPECT_EQ(scalar("SELECT bytes_out FROM channels WHERE id = 11 AND attachment = 7"), 1234);
  EXPECT_LT(scalar("SELECT id FROM events WHERE kind = 'operator.attached'"),
            scalar("SELECT id FROM events WHERE kind = 'channel.closed'"));
  // The outage itself is in the audit, once, written with what it held back.
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE kind = 'store.write_failed'"), 1);
  EXPECT_GE(scalar("SELECT json_extract(detail_json, '$.attempts') FROM events "
                   "WHERE kind = 'store.write_failed'"),
            3);
  EXPECT_NE(text("SELECT json_extract(detail_json, '$.error') FROM events "
                 "WHERE kind = 'store.write_failed'")
                .find("disk is full"),
            std::string::npos);
}

TEST_F(DiskFullStore, PastTheQueueCapNewJobsAreDroppedCountedAndReportedWithTheCause) {
  Store store(file_, /*max_queue=*/10);
  disk_.set(true);
  post_event(store, "test.kept", 0);
  ASSERT_TRUE(refused_again());  // the writer holds that one; the queue is empty
  // The disk says no before the writer takes note of why: wait for the writer.
  ASSERT_TRUE(wait_until([&] { return store.writes_refused(); }));
  int accepted = 0;
  for (int i = 1; i <= 15; ++i)
    accepted += store.post([i](Db& db) {
      db.add_event(EventKind("test.kept"), "", {{"n", i}}, at(2000 + i));
    });
  EXPECT_EQ(accepted, 10);
  EXPECT_EQ(store.dropped(), 5u);
  EXPECT_NE(store.drop_cause().find("full"), std::string::npos) << store.drop_cause();
  EXPECT_EQ(store.drops_to_report(0), 0u) << "reported while nothing can be written";
  disk_.set(false);
  store.flush();
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE kind = 'test.kept'"), 11);
  // The oldest are kept (later rows may refer to them); the newest were refused.
  EXPECT_EQ(scalar("SELECT max(json_extract(detail_json, '$.n')) FROM events "
                   "WHERE kind = 'test.kept'"),
            10);
  EXPECT_EQ(store.drops_to_report(0), 5u);
}

TEST_F(DiskFullStore, AJobsEffectOutsideTheDatabaseHappensOnceAfterItsCommit) {
  Store store(file_);
  std::atomic<int> replies{0};
  disk_.set(true);
  store.post([&replies](Db& db) {
    db.add_event(EventKind("test.reply"), "", {}, at(3000));
    db.after_commit([&replies] { ++replies; });
  });
  ASSERT_TRUE(refused_again(2));
  EXPECT_EQ(replies.load(), 0) << "replied for a write the disk refused";
  disk_.set(false);
  store.flush();
  EXPECT_EQ(replies.load(), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE kind = 'test.reply'"), 1);
}

TEST_F(DiskFullStore, AKeyRefreshIsAnsweredWhileARefusedBatchWaits) {
  Store store(file_);
  disk_.set(true);
  post_event(store, "test.waiting", 1);
  ASSERT_TRUE(refused_again());
  std::atomic<bool> answered{false};
  store.refresh_keys([&answered](std::shared_ptr<const KeySnapshot> snapshot) {
    answered = snapshot != nullptr;  // reads still work on a full disk
  });
  EXPECT_TRUE(wait_until([&] { return answered.load(); }, 5s));
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE kind = 'test.waiting'"), 0);
  disk_.set(false);
  store.flush();
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE kind = 'test.waiting'"), 1);
}

TEST_F(DiskFullStore, AStoppingStoreGivesUpWhatTheDiskKeepsRefusing) {
  const auto start = Clock::now();
  {
    Store store(file_);
    disk_.set(true);
    post_event(store, "test.lost", 1);
    ASSERT_TRUE(refused_again());
  }  // must not wait for a disk that never has room
  const auto took = Clock::now() - start;
  EXPECT_GE(took, Store::kStopRetryFor);
  EXPECT_LT(took, Store::kStopRetryFor + 5s);
  disk_.set(false);
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE kind = 'test.lost'"), 0);
}

TEST_F(DiskFullStore, AfterCommitRunsOnlyForWorkThatWasCommitted) {
  auto db = Db::open(file_, false);
  int ran = 0;
  db->after_commit([&] { ++ran; });
  EXPECT_EQ(ran, 1) << "outside a transaction it runs at once";
  db->transaction([&] {
    db->after_commit([&] { ++ran; });
    EXPECT_EQ(ran, 1) << "ran before the commit";
  });
  EXPECT_EQ(ran, 2);
  EXPECT_THROW(db->transaction([&] {
    db->after_commit([&] { ran += 100; });
    throw std::runtime_error("undone");
  }),
               std::runtime_error);
  EXPECT_EQ(ran, 2);
  db->transaction([&] {
    try {
      db->transaction([&] {
        db->after_commit([&] { ran += 100; });
        throw std::runtime_error("inner undone");
      });
    } catch (const std::runtime_error&) {
    }
    db->after_commit([&] { ran += 10; });
  });
  EXPECT_EQ(ran, 12);
}

// ---- after a crash ----------------------------------------------------------------------

class CrashPurge : public DiskFullStore {};

TEST_F(CrashPurge, ClosesEachSessionAttachmentAndChannelLeftOpenWithItsOwnEvent) {
  auto db = Db::open(file_, false);
  db->insert_attachment(attachment(7));
  db->insert_channel({11, 7, "exec", "", "sleep 600", at(1100)});
  db->insert_channel({12, 7, "proxy", "10.0.0.9:80", "", at(1200)});
  db->end_channel({12, std::nullopt, "", 10, 20, at(1300)});
  testing::RawSql(file_).exec("UPDATE channels SET bytes_in = 12, bytes_out = 3400 WHERE id = 11");
  const std::string reason = "relay restarted after a crash";

  EXPECT_EQ(db->purge_stale(reason, at(9000)), 1);

  AuditFilter filter;
  filter.session = "482913075";
  filter.oldest_first = true;
  filter.limit = 100;
  std::map<std::string, std::vector<AuditRow>> by_kind;
  for (AuditRow& row : db->query_audit(filter).rows) by_kind[row.kind].push_back(std::move(row));

  ASSERT_EQ(by_kind["channel.closed"].size(), 1u) << "only the channel still open";
  const auto& channel = by_kind["channel.closed"][0].detail;
  EXPECT_EQ(channel["channel"], 11);
  EXPECT_EQ(channel["attachment"], 7);
  EXPECT_EQ(channel["operator"], "alice");
  EXPECT_EQ(channel["kind"], "exec");
  EXPECT_EQ(channel["command"], "sleep 600");
  EXPECT_EQ(channel["bytes_in"], 12);
  EXPECT_EQ(channel["bytes_out"], 3400);
  EXPECT_EQ(channel["reason"], reason);
  EXPECT_FALSE(channel.contains("exit_status")) << "nobody saw it exit";
  EXPECT_EQ(channel["duration_ms"], 7900);

  ASSERT_EQ(by_kind["operator.detached"].size(), 1u);
  const auto& detached = by_kind["operator.detached"][0];
  EXPECT_EQ(detached.operator_name, "alice");
  EXPECT_EQ(detached.detail["attachment"], 7);
  EXPECT_EQ(detached.detail["reason"], reason);
  EXPECT_EQ(detached.detail["mode"], "shared");

  ASSERT_EQ(by_kind["session.ended"].size(), 1u);
  EXPECT_EQ(by_kind["session.ended"][0].detail["reason"], reason);

  auto rows = db->attachment_rows("482913075");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].end_reason, reason);
  ASSERT_EQ(rows[0].channels.size(), 2u);
  EXPECT_EQ(rows[0].channels[0].ended, at(9000));
  EXPECT_EQ(rows[0].channels[0].bytes_out, 3400);
  EXPECT_EQ(rows[0].channels[1].ended, at(1300)) << "a closed channel keeps its end";
}

TEST_F(CrashPurge, ChannelByteCountsAreStoredOnlyWhileTheChannelIsOpen) {
  auto db = Db::open(file_, false);
  db->insert_attachment(attachment(7));
  db->insert_channel({11, 7, "exec", "", "cat", at(1100)});
  db->insert_channel({12, 7, "exec", "", "true", at(1200)});
  db->end_channel({12, 0, "", 1, 2, at(1300)});
  db->update_channel_bytes({{11, 100, 2000}, {12, 999, 999}});
  auto channels = db->channel_rows(7);
  ASSERT_EQ(channels.size(), 2u);
  EXPECT_EQ(channels[0].bytes_in, 100);
  EXPECT_EQ(channels[0].bytes_out, 2000);
  EXPECT_FALSE(channels[0].ended);
  EXPECT_EQ(channels[1].bytes_in, 1) << "an ended channel keeps its final counts";
  EXPECT_EQ(channels[1].bytes_out, 2);
}

TEST(ChannelProgress, ReportsOnlyTheChannelsWhoseCountsMoved) {
  relay::ChannelProgress progress;
  auto a = std::make_shared<relay::LiveBytes>();
  auto b = std::make_shared<relay::LiveBytes>();
  progress.track(1, a);
  progress.track(2, b);
  EXPECT_TRUE(progress.changed().empty()) << "nothing moved yet";
  a->set(10, 200);
  b->add_out(5);
  auto rows = progress.changed();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(progress.changed().empty()) << "reported twice";
  a->add_in(1);
  rows = progress.changed();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, 1);
  EXPECT_EQ(rows[0].bytes_in, 11u);
  EXPECT_EQ(rows[0].bytes_out, 200u);
  progress.untrack(1);
  a->add_in(1);
  EXPECT_TRUE(progress.changed().empty());
  EXPECT_EQ(progress.size(), 1u);
}

TEST_F(CrashPurge, AStoryMarksARecordingTheDiskRefused) {
  auto db = Db::open(file_, false);
  const nlohmann::json base{{"session", "482913075"},
                            {"device", ""},
                            {"operator", "alice"},
                            {"kind", "own"},
                            {"path", "recordings/482913075/a.cast"}};
  auto stopped = base;
  stopped.update({{"bytes", 0},
                  {"truncated", true},
                  {"duration_ms", 0},
                  {"failed", "No space left on device"},
                  {"kept", false}});
  db->add_event(events::kRecordingStarted, "alice", base, at(1000));
  db->add_event(events::kRecordingStopped, "alice", stopped, at(1000));
  auto stories = db->session_stories("482913075", false);
  ASSERT_EQ(stories.size(), 1u);
  ASSERT_EQ(stories[0].recordings.size(), 1u);
  EXPECT_EQ(stories[0].recordings[0].failed, "No space left on device");
  EXPECT_FALSE(stories[0].recordings[0].kept);
}

}  // namespace
}  // namespace sb::store
