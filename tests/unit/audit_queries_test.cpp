// The audit's read side and retention (relay/store/audit_queries.cpp): schema v2's indexed
// columns, filters alone and combined, paging, kind prefixes, time bounds (since inclusive,
// until exclusive), the session and device stories, and pruning exactly the old rows.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/util.hpp"
#include "relay/store/migrations.hpp"
#include "relay/store/store.hpp"
#include "test_support.hpp"

namespace sb::store {
namespace {

using nlohmann::json;

using test::at;
using test::at_iso;

class AuditQueries : public ::testing::Test {
 protected:
  void SetUp() override { db_ = Db::open(file(), true); }
  std::filesystem::path file() const { return tmp_.path() / "relay.db"; }

  // Plain SQL on a second connection, for rows another branch's code writes (attachments,
  // channels) and for checks the API does not expose.
  void sql(const std::string& text) { test::exec_sql(file(), text); }
  std::int64_t scalar(const std::string& text) { return testing::RawSql(file()).scalar(text); }

  void attachment(int id, const std::string& session, const std::string& op, std::int64_t from,
                  std::int64_t to) {
    sql("INSERT INTO attachments (id, session_id, operator, fingerprint, mode, source_addr, "
        "started, ended, end_reason) VALUES (" +
        std::to_string(id) + ", '" + session + "', '" + op + "', 'SHA256:" + op +
        "', 'shared', '10.0.0.5:51234', '" + at_iso(from) + "', " +
        (to < 0 ? std::string("NULL") : "'" + at_iso(to) + "'") + ", 'detached')");
  }
  void channel(int id, int attachment_id, std::int64_t from, std::int64_t to) {
    sql("INSERT INTO channels (id, attachment, kind, target, command, exit_status, bytes_in, "
        "bytes_out, started, ended) VALUES (" +
        std::to_string(id) + ", " + std::to_string(attachment_id) +
        ", 'exec', NULL, 'uname -a', 0, 12, 3456, '" + at_iso(from) + "', " +
        (to < 0 ? std::string("NULL") : "'" + at_iso(to) + "'") + ")");
  }
  void session(const std::string& id, const std::string& device, std::int64_t t) {
    SessionStart s;
    s.id = id;
    s.device = device;
    s.fingerprint = "SHA256:tunnel-" + id + "-" + std::to_string(t);
    s.kind = device.empty() ? "adhoc" : "enrolled";
    s.source_addr = "192.0.2.7:40000";
    s.started = at(t);
    db_->insert_session(s);
  }
  void enroll(const std::string& name) {
    db_->create_enrollment(name, "hash-" + name, at(0), at(3600000));
    ASSERT_EQ(db_->redeem_enrollment("hash-" + name, "SHA256:dev-" + name,
                                     "ssh-ed25519 AAAA" + name, at(1))
                  .status,
              RedeemStatus::kOk);
  }

  // The times (ms offsets) of a page's rows, in order: a compact way to compare exact rows.
  static std::vector<std::string> times(const AuditPage& page) {
    std::vector<std::string> out;
    for (const auto& r : page.rows) out.push_back(iso8601_utc(r.time));
    return out;
  }
  static std::vector<std::string> ats(std::initializer_list<std::int64_t> ms) {
    std::vector<std::string> out;
    for (auto m : ms) out.push_back(at_iso(m));
    return out;
  }

  sb::test::TempDir tmp_;
  std::unique_ptr<Db> db_;
};

// Seven events over three sessions, two devices (one ad hoc) and two operators.
class AuditFilters : public AuditQueries {
 protected:
  void SetUp() override {
    AuditQueries::SetUp();
    ev("session.issued", {{"session", "111111111"}, {"device", "web-01"}}, 1000);
    ev("operator.attached", {{"session", "111111111"}, {"device", "web-01"}, {"operator", "alice"}},
       2000);
    ev("channel.closed",
       {{"session", "111111111"}, {"device", "web-01"}, {"operator", "alice"}, {"kind", "exec"}},
       3000);
    ev("consent.asked", {{"session", "222222222"}, {"device", ""}, {"operator", "bob"}}, 4000);
    ev("consent.answered", {{"session", 222222222}, {"operator", "bob"}, {"allow", true}}, 5000);
    ev("auth.refused", {{"fingerprint", "SHA256:x"}, {"source_addr", "10.0.0.9:1"}}, 6000);
    ev("operator.attached", {{"session", "333333333"}, {"device", "db-02"}, {"operator", "alice"}},
       7000);
  }
  void ev(const std::string& kind, const json& detail, std::int64_t t) {
    db_->add_event(EventKind(kind), "actor", detail, at(t));
  }
  AuditPage query(AuditFilter f) { return db_->query_audit(f); }
};

TEST_F(AuditQueries, SchemaV2CopiesSessionDeviceOperatorIntoColumns) {
  db_->add_event(EventKind("x.y"), "a",
                 {{"session", 482913075}, {"device", "web-01"}, {"operator", "al"}}, at(0));
  db_->add_event(EventKind("x.z"), "a", {{"session", "123456789"}, {"device", ""}}, at(1));
  db_->add_event(EventKind("x.w"), "a", json::array({1, 2}), at(2));
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE session_id = '482913075' AND device = "
                   "'web-01' AND operator = 'al'"),
            1);
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE session_id = '123456789' AND device IS "
                   "NULL AND operator IS NULL"),
            1);
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE kind = 'x.w' AND session_id IS NULL"), 1);
}

TEST_F(AuditQueries, MigrationFromV1BackfillsTheColumns) {
  db_.reset();
  std::filesystem::remove(file());
  {
    testing::RawSql raw(file());
    ASSERT_EQ(detail::apply_migrations(raw.handle(), detail::schema_migrations().first(1)), 1);
    raw.exec(
        "INSERT INTO events (time, kind, actor, detail_json) VALUES "
        "('2026-01-01T00:00:00.000Z', 'session.ended', 'fp', "
        "'{\"session\":\"111222333\",\"device\":\"web-01\"}'), "
        "('2026-01-01T00:00:01.000Z', 'consent.answered', 'bob', "
        "'{\"session\":111222333,\"operator\":\"bob\"}'), "
        "('2026-01-01T00:00:02.000Z', 'broken', '', 'not json')");
  }
  db_ = Db::open(file(), false);
  EXPECT_EQ(db_->schema_version(), Db::latest_schema_version());
  AuditFilter f;
  f.session = "111222333";
  EXPECT_EQ(db_->query_audit(f).total, 2);
  f = {};
  f.operator_name = "bob";
  EXPECT_EQ(db_->query_audit(f).total, 1);
  f = {};
  f.device = "web-01";
  EXPECT_EQ(db_->query_audit(f).total, 1);
  EXPECT_EQ(db_->query_audit({}).total, 3);  // the unparsable row is kept, without columns
}

TEST_F(AuditFilters, EachFilterAlone) {
  AuditFilter f;
  EXPECT_EQ(times(query(f)), ats({7000, 6000, 5000, 4000, 3000, 2000, 1000}));
  f = {};
  f.device = "web-01";
  EXPECT_EQ(times(query(f)), ats({3000, 2000, 1000}));
  f = {};
  f.operator_name = "alice";
  EXPECT_EQ(times(query(f)), ats({7000, 3000, 2000}));
  f = {};
  f.session = "222222222";  // one detail had the ID as a number
  EXPECT_EQ(times(query(f)), ats({5000, 4000}));
  f = {};
  f.device = "nobody";
  EXPECT_EQ(query(f).total, 0);
  EXPECT_TRUE(query(f).rows.empty());
}

TEST_F(AuditFilters, SinceIsInclusiveUntilIsExclusive) {
  AuditFilter f;
  f.since = at(2000);
  f.until = at(5000);
  EXPECT_EQ(times(query(f)), ats({4000, 3000, 2000}));
  f.since = at(2001);
  f.until = at(5001);
  EXPECT_EQ(times(query(f)), ats({5000, 4000, 3000}));
  f = {};
  f.since = at(7000);
  EXPECT_EQ(times(query(f)), ats({7000}));
  f = {};
  f.until = at(1000);
  EXPECT_EQ(query(f).total, 0);
}

TEST_F(AuditFilters, KindsArePrefixesAndCombineWithOr) {
  AuditFilter f;
  f.kinds = {"consent"};
  EXPECT_EQ(times(query(f)), ats({5000, 4000}));
  f.kinds = {"operator", "auth"};
  EXPECT_EQ(times(query(f)), ats({7000, 6000, 2000}));
  f.kinds = {"consent.answered"};
  EXPECT_EQ(times(query(f)), ats({5000}));
  f.kinds = {"con"};  // a plain prefix, not only whole words
  EXPECT_EQ(query(f).total, 2);
  f.kinds = {"consent.answeredX", "zzz"};
  EXPECT_EQ(query(f).total, 0);
}

TEST_F(AuditFilters, FiltersCombineWithAnd) {
  AuditFilter f;
  f.operator_name = "alice";
  f.device = "web-01";
  EXPECT_EQ(times(query(f)), ats({3000, 2000}));
  f.kinds = {"channel"};
  EXPECT_EQ(times(query(f)), ats({3000}));
  f.since = at(3001);
  EXPECT_EQ(query(f).total, 0);
  f = {};
  f.operator_name = "alice";
  f.session = "333333333";
  f.until = at(8000);
  EXPECT_EQ(times(query(f)), ats({7000}));
}

TEST_F(AuditFilters, OldestFirstIsATimeline) {
  AuditFilter f;
  f.operator_name = "alice";
  f.oldest_first = true;
  EXPECT_EQ(times(query(f)), ats({2000, 3000, 7000}));
}

TEST_F(AuditQueries, PagingReturnsExactlyTheRightRows) {
  for (int i = 0; i < 23; ++i) db_->add_event(EventKind("tick"), "", {{"i", i}}, at(i * 1000));
  AuditFilter f;
  f.limit = 5;
  auto p1 = db_->query_audit(f);
  EXPECT_EQ(p1.total, 23);
  EXPECT_EQ(p1.pages, 5);
  EXPECT_EQ(times(p1), ats({22000, 21000, 20000, 19000, 18000}));
  f.page = 2;
  EXPECT_EQ(times(db_->query_audit(f)), ats({17000, 16000, 15000, 14000, 13000}));
  f.page = 5;
  EXPECT_EQ(times(db_->query_audit(f)), ats({2000, 1000, 0}));
  f.page = 6;
  auto past = db_->query_audit(f);
  EXPECT_TRUE(past.rows.empty());
  EXPECT_EQ(past.total, 23);
  f.page = 2;
  f.oldest_first = true;
  EXPECT_EQ(times(db_->query_audit(f)), ats({5000, 6000, 7000, 8000, 9000}));
  // Same time: the insertion order (id) decides, so pages never overlap or skip.
  for (int i = 0; i < 4; ++i) db_->add_event(EventKind("same"), "", {{"i", i}}, at(99000));
  AuditFilter same;
  same.kinds = {"same"};
  same.limit = 3;
  same.oldest_first = true;
  auto a = db_->query_audit(same);
  same.page = 2;
  auto b = db_->query_audit(same);
  ASSERT_EQ(a.rows.size(), 3u);
  ASSERT_EQ(b.rows.size(), 1u);
  EXPECT_EQ(a.rows[0].detail["i"], 0);
  EXPECT_EQ(a.rows[2].detail["i"], 2);
  EXPECT_EQ(b.rows[0].detail["i"], 3);
}

TEST_F(AuditQueries, OutOfRangeRequestsAreRefused) {
  AuditFilter f;
  f.limit = 0;
  EXPECT_THROW(db_->query_audit(f), std::invalid_argument);
  f.limit = kMaxAuditLimit + 1;
  EXPECT_THROW(db_->query_audit(f), std::invalid_argument);
  f = {};
  f.page = 0;
  EXPECT_THROW(db_->query_audit(f), std::invalid_argument);
  f = {};
  f.kinds.assign(kMaxAuditKinds + 1, "x");
  EXPECT_THROW(db_->query_audit(f), std::invalid_argument);
  f = {};
  f.device = std::string(1000, 'd');
  EXPECT_THROW(db_->query_audit(f), std::invalid_argument);
}

TEST_F(AuditQueries, SessionStoryNestsChannelsAndSeparatesAReusedId) {
  session("111111111", "", 0);
  attachment(1, "111111111", "alice", 1000, 5000);
  channel(10, 1, 1500, 2000);
  channel(11, 1, 2500, 2600);
  attachment(2, "111111111", "bob", 3000, 6000);
  db_->add_event(EventKind("recording.started"), "relay",
                 {{"session", "111111111"},
                  {"path", "recordings/111111111/x_shared.cast"},
                  {"kind", "shared"}},
                 at(1000));
  db_->end_session("111111111", "agent closed", at(10000));
  session("111111111", "", 20000);  // the ID comes back for a new tunnel
  attachment(3, "111111111", "carol", 21000, -1);

  auto latest = db_->session_stories("111111111", false);
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].session.started, at(20000));
  EXPECT_FALSE(latest[0].session.ended);
  ASSERT_EQ(latest[0].attachments.size(), 1u);
  EXPECT_EQ(latest[0].attachments[0].operator_name, "carol");
  ASSERT_EQ(latest[0].events.size(), 1u);
  EXPECT_EQ(latest[0].events[0].kind, "session.issued");
  EXPECT_TRUE(latest[0].recordings.empty());

  auto all = db_->session_stories("111111111", true);
  ASSERT_EQ(all.size(), 2u);
  const SessionStory& old = all[1];
  EXPECT_EQ(old.session.end_reason, "agent closed");
  ASSERT_EQ(old.attachments.size(), 2u);
  EXPECT_EQ(old.attachments[0].operator_name, "alice");
  ASSERT_EQ(old.attachments[0].channels.size(), 2u);
  EXPECT_EQ(old.attachments[0].channels[0].command, "uname -a");
  EXPECT_EQ(old.attachments[0].channels[0].exit_status, 0);
  EXPECT_EQ(old.attachments[0].channels[0].bytes_out, 3456);
  EXPECT_EQ(old.attachments[0].channels[1].started, at(2500));
  EXPECT_TRUE(old.attachments[1].channels.empty());
  std::vector<std::string> kinds;
  for (const auto& e : old.events) kinds.push_back(e.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"session.issued", "recording.started", "session.ended",
                                             "keys.purged"}));
  EXPECT_EQ(old.events_total, 4);
  ASSERT_EQ(old.recordings.size(), 1u);
  EXPECT_EQ(old.recordings[0].path, "recordings/111111111/x_shared.cast");
  EXPECT_TRUE(old.events[0].recorded);

  EXPECT_TRUE(db_->session_stories("999999999", true).empty());
}

TEST_F(AuditQueries, SessionStoryBoundsItsEventsAndCountsThemAll) {
  session("444444444", "", 0);
  db_->transaction([&] {
    for (int i = 1; i <= kMaxStoryEvents + 10; ++i)
      db_->add_event(EventKind("channel.closed"), "alice", {{"session", "444444444"}}, at(i));
  });
  auto stories = db_->session_stories("444444444", false);
  ASSERT_EQ(stories.size(), 1u);
  EXPECT_EQ(stories[0].events.size(), static_cast<std::size_t>(kMaxStoryEvents));
  EXPECT_EQ(stories[0].events_total, kMaxStoryEvents + 11);     // with session.issued
  EXPECT_EQ(stories[0].events.front().kind, "session.issued");  // the oldest are kept
}

TEST_F(AuditQueries, DeviceStoryHasStatusGrantsAndRecentSessions) {
  enroll("web-01");
  db_->add_operator("alice", "ssh-ed25519 AAAAalice", "SHA256:alice", at(2));
  db_->add_operator("bob", "ssh-ed25519 AAAAbob", "SHA256:bob", at(2));
  db_->add_grant("alice", "web-01", at(3));
  db_->add_grant("bob", "other", at(3));
  EXPECT_EQ(db_->device_story("web-01", 10)->status, "offline");
  EXPECT_TRUE(db_->device_story("web-01", 10)->recent_sessions.empty());

  session("111111111", "web-01", 1000);
  attachment(1, "111111111", "alice", 1100, 1200);
  attachment(2, "111111111", "bob", 1150, 1300);
  attachment(3, "111111111", "alice", 1400, 1500);
  db_->end_session("111111111", "tunnel dropped", at(2000));
  session("222222222", "web-01", 3000);

  auto story = db_->device_story("web-01", 10);
  ASSERT_TRUE(story);
  EXPECT_EQ(story->status, "online");
  EXPECT_EQ(story->address, "192.0.2.7:40000");
  ASSERT_EQ(story->grants.size(), 1u);
  EXPECT_EQ(story->grants[0].operator_name, "alice");
  ASSERT_EQ(story->recent_sessions.size(), 2u);
  EXPECT_EQ(story->recent_sessions[0].session.id, "222222222");
  EXPECT_EQ(story->recent_sessions[1].operators, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(db_->device_story("web-01", 1)->recent_sessions.size(), 1u);

  db_->end_session("222222222", "agent closed", at(4000));
  EXPECT_EQ(db_->device_story("web-01", 10)->status, "offline");
  sql("UPDATE devices SET status = 'revoked' WHERE name = 'web-01'");
  EXPECT_EQ(db_->device_story("web-01", 10)->status, "revoked");
  EXPECT_FALSE(db_->device_story("nope", 10));
}

TEST_F(AuditQueries, PruneDeletesExactlyTheOldRowsAndNeverALiveSessions) {
  const std::int64_t day = 24 * 3600 * 1000LL;
  // An old ended session: all of it goes.
  session("111111111", "", 0);
  attachment(1, "111111111", "alice", 1000, 2000);
  channel(10, 1, 1100, 1900);
  db_->end_session("111111111", "gone", at(3000));
  db_->add_event(EventKind("auth.refused"), "fp", {{"reason", "unknown key"}}, at(4000));
  // An old ended session with the ID a live session uses now: the old one goes, the live stays.
  session("222222222", "", 5000);
  attachment(2, "222222222", "bob", 6000, 7000);
  db_->end_session("222222222", "gone", at(8000));
  // A live session that started long ago: its old rows stay.
  session("222222222", "", 9000);
  attachment(3, "222222222", "carol", 10000, 11000);  // ended long ago, but its session is live
  channel(11, 3, 10500, 10900);
  db_->add_event(EventKind("channel.closed"), "carol",
                 {{"session", "222222222"}, {"operator", "carol"}}, at(11000));
  // A session that ended after the cutoff stays, with its rows, even though it started before.
  session("333333333", "", 20000);
  attachment(4, "333333333", "dave", 21000, 30 * day);
  db_->end_session("333333333", "gone", at(30 * day));
  db_->add_event(EventKind("recent"), "", {}, at(30 * day));

  const Time cutoff = at(10 * day);
  const std::int64_t events_before = scalar("SELECT count(*) FROM events");
  const std::int64_t old_events =
      scalar("SELECT count(*) FROM events WHERE time < '" + iso8601_utc(cutoff) + "'");
  // Kept although old: the live session's issue (t=9000) and carol's channel (t=11000).
  const std::int64_t live_old_events = 2;

  auto pruned = db_->prune_audit(cutoff, at(40 * day));
  EXPECT_EQ(pruned.sessions, 2);     // 111 and the first 222
  EXPECT_EQ(pruned.attachments, 2);  // alice, bob
  EXPECT_EQ(pruned.channels, 1);     // alice's
  EXPECT_EQ(pruned.events, old_events - live_old_events);

  EXPECT_EQ(scalar("SELECT count(*) FROM sessions"), 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM sessions WHERE id = '222222222' AND ended IS NULL"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM attachments WHERE operator IN ('carol','dave')"), 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM attachments"), 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM channels WHERE id = 11"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM channels"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE time < '" + iso8601_utc(cutoff) + "'"),
            live_old_events);
  EXPECT_EQ(scalar("SELECT count(*) FROM events"), events_before - pruned.events + 1);
  AuditFilter f;
  f.kinds = {"audit.pruned"};
  auto page = db_->query_audit(f);
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].detail["before"], iso8601_utc(cutoff));
  EXPECT_EQ(page.rows[0].detail["events"], pruned.events);
  EXPECT_EQ(page.rows[0].detail["sessions"], 2);

  // Pruning again with the same cutoff finds nothing more, and says nothing.
  auto again = db_->prune_audit(cutoff, at(40 * day + 1));
  EXPECT_EQ(again.events + again.sessions + again.attachments + again.channels, 0);
  EXPECT_EQ(db_->query_audit(f).total, 1);
}

// More old events than one batch holds, old rows of a live session among them (spread through
// the time order, so the cursor must pass over them), and an old ended session with
// attachments and channels: batches of at most kPruneBatchRows remove every prunable row.
TEST_F(AuditQueries, PruneInBatchesRemovesMoreThanOneBatchAndKeepsLiveSessionsRows) {
  constexpr int kOldEvents = 12000;
  sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
      std::to_string(kOldEvents) +
      ") INSERT INTO events (time, kind, actor, detail_json) "
      "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', '2020-01-01', '+' || i || ' seconds'), "
      "'test.old', 'x', '{}' FROM n");
  session("222222222", "", -1000LL * 3600 * 24 * 365 * 10);  // live since 2016
  for (int i = 0; i < 20; ++i) {
    db_->add_event(EventKind("test.live"), "", {{"session", "222222222"}},
                   test::utc("2020-01-01T00:00:" + std::to_string(10 + i) + ".500Z"));
  }
  session("111111111", "", -1000LL * 3600 * 24 * 365 * 7);  // 2019
  for (int i = 0; i < 30; ++i) {
    attachment(100 + i, "111111111", "alice", -1000LL * 3600 * 24 * 365 * 7 + i, -1);
    channel(1000 + i, 100 + i, -1000LL * 3600 * 24 * 365 * 7 + i, -1);
  }
  db_->end_session("111111111", "gone", test::utc("2019-06-01T00:00:00.000Z"));
  sql("UPDATE channels SET ended = '2019-06-01T00:00:00.000Z'");
  const std::int64_t old_rows_of_ended =
      scalar("SELECT count(*) FROM events WHERE session_id = '111111111'");

  const Time cutoff = test::utc("2021-01-01T00:00:00.000Z");
  PruneCursor cursor;
  PruneResult total;
  int batches = 0;
  while (!cursor.done()) {
    PruneResult batch;
    db_->transaction([&] { batch = db_->prune_audit_batch(cutoff, cursor); });
    EXPECT_LE(batch.rows(), kPruneBatchRows);
    total += batch;
    ASSERT_LT(++batches, 100) << "the prune does not end";
  }
  EXPECT_GE(batches, 3);
  EXPECT_EQ(total.channels, 30);
  EXPECT_EQ(total.attachments, 30);
  EXPECT_EQ(total.sessions, 1);
  EXPECT_EQ(total.events, kOldEvents + old_rows_of_ended);
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE kind = 'test.old'"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE kind = 'test.live'"), 20);
  EXPECT_EQ(scalar("SELECT count(*) FROM sessions WHERE id = '222222222'"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM attachments") + scalar("SELECT count(*) FROM channels"),
            0);
  PruneCursor again;
  EXPECT_EQ(db_->prune_audit_batch(cutoff, again).rows(), 0);
  EXPECT_TRUE(again.done());
}

// Batches of one row walk every stage boundary and end where one big prune would.
TEST_F(AuditQueries, PruneOneRowPerBatchDeletesWhatOneBigPruneWould) {
  session("111111111", "", 0);
  attachment(1, "111111111", "alice", 1000, 2000);
  channel(10, 1, 1100, 1900);
  channel(11, 1, 1200, 1900);
  db_->end_session("111111111", "gone", at(3000));
  session("222222222", "", 4000);  // live
  attachment(2, "222222222", "bob", 5000, 6000);
  channel(12, 2, 5100, 5900);
  const std::int64_t events_before = scalar("SELECT count(*) FROM events");
  PruneCursor cursor;
  PruneResult total;
  int batches = 0;
  while (!cursor.done() && batches < 100) {
    PruneResult batch = db_->prune_audit_batch(at(1000000), cursor, 1);
    EXPECT_LE(batch.rows(), 1);
    total += batch;
    ++batches;
  }
  EXPECT_TRUE(cursor.done());
  EXPECT_EQ(total.channels, 2);
  EXPECT_EQ(total.attachments, 1);
  EXPECT_EQ(total.sessions, 1);
  // 111's issue and end go; 222's issue stays (live).
  EXPECT_EQ(total.events, events_before - 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM channels WHERE id = 12"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM attachments WHERE id = 2"), 1);
  EXPECT_THROW(db_->prune_audit_batch(at(0), cursor, 0), std::invalid_argument);
}

TEST_F(AuditQueries, SessionSpansListEverySessionWithTheIdOldestFirst) {
  session("222222222", "", 0);
  db_->end_session("222222222", "gone", at(1000));
  session("222222222", "", 2000);
  auto spans = db_->session_spans("222222222");
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].started, at(0));
  EXPECT_EQ(spans[0].ended, at(1000));
  EXPECT_EQ(spans[1].started, at(2000));
  EXPECT_FALSE(spans[1].ended);
  EXPECT_TRUE(db_->session_spans("999999999").empty());
}

}  // namespace
}  // namespace sb::store
