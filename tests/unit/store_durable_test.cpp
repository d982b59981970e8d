// What the store keeps through a full disk: a batch the disk refuses (simulated by
// testing::DiskFull, which fails SQLite's writes with SQLITE_FULL) is kept, retried and written
// in order once there is room, past the queue's cap new jobs are dropped and counted, a job's
// effects outside the database happen once, after its commit.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

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

}  // namespace
}  // namespace sb::store
