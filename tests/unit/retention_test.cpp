// Audit retention (relay/retention.*): which recordings have expired (a pure function of the
// listing, the store's sessions and the recorder's open files), the listing and deletion on a
// real directory (stray files, symlinks), and a whole run through the Store: batches with live
// writes between them, none of them dropped.
#include "relay/audit/retention.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "common/util.hpp"
#include "relay/store/store.hpp"
#include "test_support.hpp"

namespace sb::relay {
namespace {

namespace fs = std::filesystem;
using store::SessionSpan;

Time t(const std::string& iso) {
  return *parse_time(iso);
}

store::SessionSpan span(const std::string& started, const std::string& ended) {
  return {t(started), ended.empty() ? std::nullopt : std::optional<Time>(t(ended))};
}

const Time kRetentionCutoff = t("2026-08-01T00:00:00.000Z");

RecordingFile cast_entry(const std::string& session, const std::string& name,
                         const std::string& modified) {
  return {session, name, t(modified), 1000};
}

std::vector<std::string> recording_paths(const std::vector<RecordingFile>& files) {
  std::vector<std::string> out;
  for (const RecordingFile& f : files) out.push_back(f.path());
  return out;
}

TEST(RecordingStarted, ReadsTheRecordersFileNames) {
  EXPECT_EQ(recording_started("20261122T063347Z_shared.cast"), t("2026-11-22T06:33:47.999Z"));
  EXPECT_EQ(recording_started("20260101T000000Z_own-alice-2.cast"), t("2026-01-01T00:00:00.999Z"));
  EXPECT_FALSE(recording_started("notes.cast"));
  EXPECT_FALSE(recording_started("2026112XT063347Z_shared.cast"));
  EXPECT_FALSE(recording_started("20261122T063347_shared.cast"));
  EXPECT_FALSE(recording_started("20261399T063347Z.cast"));  // no 13th month
}

TEST(ExpiredRecordings, FollowTheEndOfTheSessionTheyBelongTo) {
  const std::vector<RecordingFile> files = {
      // Session ended before the cutoff: expired, whatever the mtime says.
      cast_entry("111111111", "20260501T100000Z_shared.cast", "2026-11-01T00:00:00.000Z"),
      // Session ended after the cutoff (it started before): kept.
      cast_entry("333333333", "20260701T100000Z_shared.cast", "2026-07-01T11:00:00.000Z"),
      // ID reused: the first session's file goes, the second's stays.
      cast_entry("444444444", "20260201T100000Z_shared.cast", "2026-02-01T11:00:00.000Z"),
      cast_entry("444444444", "20260901T100000Z_own-bob.cast", "2026-09-01T11:00:00.000Z"),
      // Started in the same second as its session (names hold whole seconds).
      cast_entry("555555555", "20260301T100000Z_shared.cast", "2026-03-01T10:05:00.000Z"),
  };
  SessionSpans spans{
      {"111111111", {span("2026-05-01T09:00:00.000Z", "2026-05-01T12:00:00.000Z")}},
      {"333333333", {span("2026-07-01T09:00:00.000Z", "2026-08-02T00:00:00.000Z")}},
      {"444444444",
       {span("2026-02-01T09:00:00.000Z", "2026-02-01T12:00:00.000Z"),
        span("2026-09-01T09:00:00.000Z", "2026-09-01T12:00:00.000Z")}},
      {"555555555", {span("2026-03-01T10:00:00.400Z", "2026-03-01T10:05:00.000Z")}},
  };
  EXPECT_EQ(recording_paths(expired_recordings(files, spans, {}, kRetentionCutoff)),
            (std::vector<std::string>{"recordings/111111111/20260501T100000Z_shared.cast",
                                      "recordings/444444444/20260201T100000Z_shared.cast",
                                      "recordings/555555555/20260301T100000Z_shared.cast"}));
}

TEST(ExpiredRecordings, NeverALiveSessionsOrAnOpenFile) {
  const std::vector<RecordingFile> files = {
      // An older session's file in the directory of a live session with the same ID.
      cast_entry("222222222", "20260101T100000Z_shared.cast", "2026-01-01T11:00:00.000Z"),
      cast_entry("222222222", "20260901T100000Z_shared.cast", "2026-01-01T11:00:00.000Z"),
      // Being written (no store row: its session.issued job was dropped), idle for months.
      cast_entry("666666666", "20260101T100000Z_shared.cast", "2026-01-01T11:00:00.000Z"),
  };
  SessionSpans spans{{"222222222",
                      {span("2026-01-01T09:00:00.000Z", "2026-01-01T12:00:00.000Z"),
                       span("2026-09-01T09:00:00.000Z", "")}}};
  const std::set<std::string> open{"recordings/666666666/20260101T100000Z_shared.cast"};
  EXPECT_TRUE(expired_recordings(files, spans, open, kRetentionCutoff).empty());
  // Once closed and with no live session, the mtime decides.
  EXPECT_EQ(expired_recordings(files, {}, {}, kRetentionCutoff).size(), 3u);
}

TEST(ExpiredRecordings, WithoutStoreRowsTheMtimeDecides) {
  // From before a restart, their rows pruned by an earlier run (or lost): last written when
  // the recording stopped.
  const std::vector<RecordingFile> files = {
      cast_entry("777777777", "20250101T100000Z_shared.cast", "2025-01-01T11:00:00.000Z"),
      cast_entry("777777777", "20260901T100000Z_shared.cast", "2026-09-01T11:00:00.000Z"),
      cast_entry("888888888", "renamed-by-hand.cast", "2025-01-01T11:00:00.000Z"),
  };
  EXPECT_EQ(recording_paths(expired_recordings(files, {}, {}, kRetentionCutoff)),
            (std::vector<std::string>{"recordings/777777777/20250101T100000Z_shared.cast",
                                      "recordings/888888888/renamed-by-hand.cast"}));
}

TEST(ExpiredRecordings, LeaveStrayFilesAlone) {
  const std::string old = "2020-01-01T00:00:00.000Z";
  const std::vector<RecordingFile> files = {
      cast_entry("111111111", "notes.txt", old),
      cast_entry("111111111", "20200101T000000Z_shared.cast.bak", old),
      cast_entry("111111111", ".cast", old),
      cast_entry("backup", "20200101T000000Z_shared.cast", old),
      cast_entry("1111111112", "20200101T000000Z_shared.cast", old),
  };
  EXPECT_TRUE(expired_recordings(files, {}, {}, kRetentionCutoff).empty());
}

// ---- on a real directory ----------------------------------------------------------------------

void write_recording_file(const fs::path& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
}

TEST(RetentionFiles, ListingSkipsSymlinksAndStrayDirectories) {
  test::TempDir tmp;
  const fs::path rec = tmp.path() / "recordings";
  const fs::path outside = tmp.path() / "outside";
  fs::create_directories(rec / "111111111" / "nested");
  fs::create_directories(rec / "notasession");
  fs::create_directories(outside);
  write_recording_file(rec / "111111111" / "20200101T000000Z_shared.cast", "12345");
  write_recording_file(rec / "111111111" / "notes.txt", "keep");
  write_recording_file(rec / "notasession" / "20200101T000000Z_shared.cast", "x");
  write_recording_file(outside / "20200101T000000Z_shared.cast", "precious");
  fs::create_directory_symlink(outside, rec / "222222222");
  fs::create_symlink(outside / "20200101T000000Z_shared.cast",
                     rec / "111111111" / "20200101T000001Z_shared.cast");

  auto dirs = list_session_dirs(rec, 1000);
  std::sort(dirs.begin(), dirs.end());
  EXPECT_EQ(dirs, (std::vector<std::string>{"111111111", "222222222"}));
  EXPECT_EQ(list_session_dirs(rec, 1).size(), 1u);
  EXPECT_TRUE(list_session_dirs(tmp.path() / "missing", 1000).empty());
  EXPECT_TRUE(list_session_files(rec, "222222222", 1000).empty());  // a symlink: not walked
  auto files = list_session_files(rec, "111111111", 1000);
  std::sort(files.begin(), files.end(),
            [](const RecordingFile& a, const RecordingFile& b) { return a.name < b.name; });
  ASSERT_EQ(recording_paths(files),
            (std::vector<std::string>{"recordings/111111111/20200101T000000Z_shared.cast",
                                      "recordings/111111111/notes.txt"}));
  EXPECT_EQ(files[0].bytes, 5u);
  EXPECT_NE(files[0].modified, Time{});
  EXPECT_EQ(list_session_files(rec, "111111111", 1).size(), 1u);

  // Deleting through the symlinked directory fails (counted) and the target survives.
  DeleteTally tally;
  delete_recording(rec, {"222222222", "20200101T000000Z_shared.cast", Time{}, 8}, tally);
  EXPECT_EQ(tally.failed, 1);
  EXPECT_TRUE(fs::exists(outside / "20200101T000000Z_shared.cast"));
  EXPECT_FALSE(remove_empty_session_dir(rec, "222222222"));
  EXPECT_TRUE(fs::is_symlink(rec / "222222222"));

  delete_recording(rec, files[0], tally);
  EXPECT_EQ(tally.deleted, 1);
  EXPECT_EQ(tally.bytes, 5u);
  delete_recording(rec, files[0], tally);  // already gone: neither deleted nor failed
  EXPECT_EQ(tally.deleted, 1);
  EXPECT_EQ(tally.failed, 1);
  // Not empty (notes.txt, the symlink, nested/): stays.
  EXPECT_FALSE(remove_empty_session_dir(rec, "111111111"));
  fs::create_directories(rec / "333333333");
  EXPECT_TRUE(remove_empty_session_dir(rec, "333333333"));
  EXPECT_FALSE(fs::exists(rec / "333333333"));
}

// ---- a whole run through the Store --------------------------------------------------------

class RetentionRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::Db::open(db_file(), true);  // creates the schema
  }
  fs::path db_file() const { return tmp_.path() / "relay.db"; }
  void sql(const std::string& text) { test::exec_sql(db_file(), text); }
  std::int64_t count(const std::string& where) {
    auto db = store::Db::open(db_file(), false);
    store::AuditFilter f;
    f.kinds = {where};
    return db->query_audit(f).total;
  }
  void old_events(int n) {
    sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
        std::to_string(n) +
        ") INSERT INTO events (time, kind, actor, detail_json) "
        "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', '2020-01-01', '+' || i || ' seconds'), "
        "'test.old', 'x', '{}' FROM n");
  }
  test::TempDir tmp_;
};

TEST_F(RetentionRunTest, DeletesOldRecordingsAndRowsAndSaysSo) {
  old_events(100);
  const fs::path rec = tmp_.path() / "recordings";
  fs::create_directories(rec / "111111111");
  fs::create_directories(rec / "222222222");
  write_recording_file(rec / "111111111" / "20200101T000000Z_shared.cast", std::string(300, 'x'));
  write_recording_file(rec / "111111111" / "README", "stray");
  write_recording_file(rec / "222222222" / "20200101T000000Z_shared.cast", std::string(200, 'x'));
  write_recording_file(rec / "222222222" / "20200102T000000Z_own-bob.cast", std::string(100, 'x'));
  const auto long_ago = fs::file_time_type::clock::now() - std::chrono::hours(24 * 400);
  for (const auto& entry : fs::recursive_directory_iterator(rec))
    if (entry.is_regular_file()) fs::last_write_time(entry.path(), long_ago);

  std::promise<void> finished;  // outlives the store, whose last jobs may still set it
  store::Store store(db_file());
  ASSERT_TRUE(start_retention_run(
      store, {.data_dir = tmp_.path(), .keep = std::chrono::hours(24 * 30), .dirs_per_job = 1},
      [&] { finished.set_value(); }));
  ASSERT_EQ(finished.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  store.flush();

  EXPECT_TRUE(fs::exists(rec / "111111111" / "README"));
  EXPECT_FALSE(fs::exists(rec / "111111111" / "20200101T000000Z_shared.cast"));
  EXPECT_FALSE(fs::exists(rec / "222222222"));  // emptied, removed
  auto db = store::Db::open(db_file(), false);
  store::AuditFilter f;
  f.kinds = {"audit.pruned"};
  auto page = db->query_audit(f);
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].detail["events"], 100);
  EXPECT_EQ(page.rows[0].detail["recordings"], 3);
  EXPECT_EQ(page.rows[0].detail["recording_bytes"], 600);
  EXPECT_FALSE(page.rows[0].detail.contains("recordings_failed"));
}

TEST_F(RetentionRunTest, AStoppingRelayEndsTheRunAndLeavesTheRestForTheNext) {
  old_events(10);
  std::promise<void> finished;
  store::Store store(db_file());
  auto stop = std::make_shared<std::atomic<bool>>(true);
  ASSERT_TRUE(start_retention_run(
      store, {.data_dir = tmp_.path(), .keep = std::chrono::hours(24), .stop = stop},
      [&] { finished.set_value(); }));
  ASSERT_EQ(finished.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  store.flush();
  EXPECT_EQ(count("test.old"), 10);
  EXPECT_EQ(count("audit.pruned"), 0);
}

// Live writes posted while a prune of many rows runs are written between its batches, not
// refused by a queue the prune keeps full: with one big transaction the writer would sit on
// the whole delete while the posts below pile up past max_queue.
TEST_F(RetentionRunTest, LiveWritesRunBetweenBatchesAndNoneIsDropped) {
  // Measured in the RelWithDebInfo build: one transaction over these rows makes this test fail
  // (the posts, about 2,000 a second, fill the queue); batches of 1,000 rows keep it short.
  constexpr int kOld = 150000 / test::kLoadDivisor;
  constexpr int kLive = 2000;
  constexpr std::size_t kQueue = 1000;
  old_events(kOld);
  std::promise<void> finished;
  store::Store store(db_file(), kQueue);
  auto done = finished.get_future();
  ASSERT_TRUE(start_retention_run(
      store, {.data_dir = tmp_.path(), .keep = std::chrono::hours(24), .batch_rows = 1000},
      [&] { finished.set_value(); }));
  int posted = 0;
  for (; posted < kLive; ++posted) {
    ASSERT_TRUE(store.post([n = posted](store::Db& db) {
      db.add_event(store::EventKind("test.live"), "", {{"n", n}}, utc_now());
    })) << "dropped after "
        << posted << " posts";
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  ASSERT_EQ(done.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  store.flush();
  EXPECT_EQ(store.dropped(), 0u);
  EXPECT_EQ(count("test.live"), kLive);
  EXPECT_EQ(count("test.old"), 0);
  // The first live write landed before the prune's end: they were interleaved.
  auto db = store::Db::open(db_file(), false);
  store::AuditFilter f;
  f.kinds = {"audit.pruned"};
  f.oldest_first = true;
  auto pruned = db->query_audit(f);
  ASSERT_EQ(pruned.rows.size(), 1u);
  EXPECT_EQ(pruned.rows[0].detail["events"], kOld);
  f.kinds = {"test.live"};
  f.limit = 1;
  EXPECT_LT(db->query_audit(f).rows.at(0).id, pruned.rows[0].id);
}

}  // namespace
}  // namespace sb::relay
