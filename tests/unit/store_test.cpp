// Unit tests of the relay's SQLite store (relay/store): schema migrations, sessions and their
// keys, enrollment, key snapshots, events, and the writer thread.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "relay/store/audit_events.hpp"
#include "relay/store/migrations.hpp"
#include "relay/store/store.hpp"
#include "test_support.hpp"

namespace sb::store {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using nlohmann::json;
using test::at;
using test::at_iso;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sb-store-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    file_ = dir_ / "relay.db";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // A raw connection, for what the API does not expose.
  using Raw = testing::RawSql;

  std::unique_ptr<Db> open() { return Db::open(file_, true); }

  // Creates an enrolled device through the public API.
  void enroll(Db& db, const std::string& name, const std::string& fp, std::int64_t t0 = 0) {
    db.create_enrollment(name, "hash-" + name + fp, at(t0), at(t0 + 3600000));
    auto r = db.redeem_enrollment("hash-" + name + fp, fp, "ssh-ed25519 AAAA" + fp, at(t0 + 1));
    ASSERT_EQ(r.status, RedeemStatus::kOk);
  }

  static SessionStart session(const std::string& id, const std::string& device,
                              const std::string& fp, std::int64_t t) {
    SessionStart s;
    s.id = id;
    s.device = device;
    s.fingerprint = fp;
    s.key = "ssh-ed25519 AAAA" + fp;
    s.kind = device.empty() ? "adhoc" : "enrolled";
    s.source_addr = "192.0.2.7:40000";
    s.started = at(t);
    s.info = {{"agent_version", "0.1.0"}};
    return s;
  }

  static std::size_t count_kind(Db& db, const std::string& kind) {
    std::size_t n = 0;
    for (const auto& e : db.list_events(kind, 0)) n += e["kind"] == kind;
    return n;
  }

  fs::path dir_;
  fs::path file_;
};

// --- opening and migrations ---

TEST_F(StoreTest, FreshDatabaseHasLatestSchemaWalAndPrivateMode) {
  auto db = open();
  EXPECT_EQ(db->schema_version(), Db::latest_schema_version());
  EXPECT_EQ(Db::latest_schema_version(), 3);
  struct stat st {};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Raw raw(file_);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), 3);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                       "('operators','grants','devices','enrollments','sessions','tunnel_keys',"
                       "'attachments','channels','events')"),
            9);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'sessions_live_id'"), 1);
}

TEST_F(StoreTest, ReopenIsIdempotentAndKeepsData) {
  open()->add_event(EventKind("test.kind"), "me", {{"n", 1}}, at(0));
  auto db = open();
  EXPECT_EQ(db->schema_version(), 3);
  auto db2 = Db::open(file_, false);  // a second connection at the same time
  EXPECT_EQ(db2->schema_version(), 3);
  EXPECT_EQ(db2->list_events("test.", 10).size(), 1u);
}

TEST_F(StoreTest, MissingFileWithoutCreateIsRefused) {
  try {
    Db::open(file_, false);
    FAIL() << "opened a missing database";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "no database at " + file_.string() + ": run `relay init --data-dir DIR` first");
  }
  EXPECT_FALSE(fs::exists(file_));
}

TEST_F(StoreTest, FutureSchemaVersionIsRefused) {
  open().reset();
  Raw(file_).exec("PRAGMA user_version = 7");
  try {
    Db::open(file_, false);
    FAIL() << "opened a database newer than this build";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 7 is newer"), std::string::npos)
        << e.what();
  }
}

TEST_F(StoreTest, CorruptFileIsRefusedClearly) {
  std::ofstream(file_) << std::string(8192, 'x');
  try {
    Db::open(file_, true);
    FAIL() << "opened a corrupt file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt or not a SQLite database"), std::string::npos)
        << e.what();
  }
}

TEST_F(StoreTest, ForeignDatabaseIsRefused) {
  Raw(file_).exec("CREATE TABLE something_else (a)");
  EXPECT_THROW(Db::open(file_, false), std::runtime_error);
}

TEST_F(StoreTest, MigrationFrameworkAppliesAnAppendedStep) {
  open().reset();  // version 3
  auto shipped = detail::schema_migrations();
  ASSERT_EQ(shipped.size(), 3u);
  const detail::Migration steps[] = {
      shipped[0],
      shipped[1],
      shipped[2],
      {4, "ALTER TABLE devices ADD COLUMN policy_json TEXT NOT NULL DEFAULT '{}';"}};
  Raw raw(file_);
  EXPECT_EQ(detail::apply_migrations(raw.handle(), steps), 4);
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), 4);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM pragma_table_info('devices') "
                       "WHERE name = 'policy_json'"),
            1);
  EXPECT_EQ(detail::apply_migrations(raw.handle(), steps), 4);  // nothing left to do
  // This build only knows version 3: it refuses the upgraded file.
  EXPECT_THROW(Db::open(file_, false), std::runtime_error);
}

TEST_F(StoreTest, FailedMigrationStepLeavesThePreviousVersion) {
  open().reset();
  const detail::Migration steps[] = {detail::schema_migrations()[0],
                                     detail::schema_migrations()[1],
                                     detail::schema_migrations()[2],
                                     {4, "CREATE TABLE half_done (a); THIS IS NOT SQL;"}};
  Raw raw(file_);
  EXPECT_THROW(detail::apply_migrations(raw.handle(), steps), std::runtime_error);
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), 3);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'"), 0);
}

// --- sessions ---

TEST_F(StoreTest, InsertAndEndSession) {
  auto db = open();
  enroll(*db, "web-01", "SHA256:dev");
  db->insert_session(session("482913075", "web-01", "SHA256:tun", 1000));

  auto dev = db->find_device("web-01");
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->status, "online");
  EXPECT_EQ(dev->last_seen, at(1000));
  auto keys = db->list_tunnel_keys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].fingerprint, "SHA256:tun");
  EXPECT_EQ(keys[0].device, "web-01");
  EXPECT_EQ(keys[0].session_id, "482913075");
  EXPECT_EQ(keys[0].since, at(1000));
  auto issued = db->list_events("session.issued", 0);
  ASSERT_EQ(issued.size(), 1u);
  EXPECT_EQ(issued[0]["actor"], "SHA256:tun");
  EXPECT_EQ(issued[0]["detail"]["session"], "482913075");
  EXPECT_EQ(issued[0]["detail"]["device"], "web-01");
  EXPECT_EQ(issued[0]["detail"]["kind"], "enrolled");

  // An operator attached, with one open channel (no API for these yet: raw SQL).
  {
    Raw raw(file_);
    raw.exec(
        "INSERT INTO attachments (session_id, operator, fingerprint, mode, started) "
        "VALUES ('482913075', 'alice', 'SHA256:alice', 'shared', '" +
        at_iso(2000) + "')");
    raw.exec("INSERT INTO channels (attachment, kind, started) VALUES (1, 'shell', '" +
             at_iso(2001) + "')");
  }

  db->end_session("482913075", "tunnel-closed", at(5000));
  auto s = db->find_session("482913075");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ended, at(5000));
  EXPECT_EQ(s->end_reason, "tunnel-closed");
  EXPECT_EQ(s->info["agent_version"], "0.1.0");
  EXPECT_TRUE(db->list_tunnel_keys().empty());
  EXPECT_TRUE(db->list_sessions(true).empty());
  EXPECT_EQ(db->list_sessions(false).size(), 1u);
  dev = db->find_device("web-01");
  EXPECT_EQ(dev->status, "offline");
  EXPECT_EQ(dev->last_seen, at(5000));
  {
    Raw raw(file_);
    EXPECT_EQ(raw.text("SELECT ended FROM attachments WHERE id = 1"), at_iso(5000));
    EXPECT_EQ(raw.text("SELECT end_reason FROM attachments WHERE id = 1"), "tunnel-closed");
    EXPECT_EQ(raw.text("SELECT ended FROM channels WHERE id = 1"), at_iso(5000));
  }
  auto ended = db->list_events("session.ended", 0);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0]["detail"]["reason"], "tunnel-closed");
  EXPECT_EQ(ended[0]["detail"]["device"], "web-01");
  auto purged = db->list_events("keys.purged", 0);
  ASSERT_EQ(purged.size(), 1u);
  EXPECT_EQ(purged[0]["detail"]["fingerprints"], nlohmann::json::array({"SHA256:tun"}));

  // Ending it again changes nothing; an unknown ID is ignored too.
  const auto events = db->list_events("", 0).size();
  db->end_session("482913075", "again", at(6000));
  db->end_session("999999999", "unknown", at(6000));
  EXPECT_EQ(db->list_events("", 0).size(), events);
  EXPECT_EQ(db->find_session("482913075")->end_reason, "tunnel-closed");
}

TEST_F(StoreTest, AdhocSessionTouchesNoDevice) {
  auto db = open();
  db->insert_session(session("111222333", "", "SHA256:adhoc", 0));
  auto s = db->find_session("111222333");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->device, "");
  EXPECT_EQ(s->kind, "adhoc");
  EXPECT_FALSE(s->ended);
  db->end_session("111222333", "agent-exit", at(10));
  EXPECT_TRUE(db->list_devices().empty());
  EXPECT_TRUE(db->list_tunnel_keys().empty());
}

TEST_F(StoreTest, ReconnectedDeviceStaysOnlineWhenOldSessionEnds) {
  auto db = open();
  enroll(*db, "web-01", "SHA256:dev");
  db->insert_session(session("100000001", "web-01", "SHA256:dev", 1000));
  db->insert_session(session("100000002", "web-01", "SHA256:dev", 2000));
  db->end_session("100000001", "keepalive-timeout", at(3000));
  EXPECT_EQ(db->find_device("web-01")->status, "online");
  db->end_session("100000002", "agent-exit", at(4000));
  EXPECT_EQ(db->find_device("web-01")->status, "offline");
}

TEST_F(StoreTest, OneLiveSessionPerId) {
  auto db = open();
  db->insert_session(session("482913075", "", "SHA256:a", 1000));
  EXPECT_THROW(db->insert_session(session("482913075", "", "SHA256:b", 2000)), std::runtime_error);
  EXPECT_EQ(db->list_tunnel_keys().size(), 1u);  // the failed insert left nothing behind
  EXPECT_EQ(db->list_events("session.issued", 0).size(), 1u);

  db->end_session("482913075", "done", at(3000));
  db->insert_session(session("482913075", "", "SHA256:c", 4000));  // the ID is free again
  auto live = db->find_session("482913075");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->fingerprint, "SHA256:c");
  EXPECT_FALSE(live->ended);
  auto all = db->list_sessions(false);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].started, at(4000));  // newest first
  EXPECT_EQ(db->list_sessions(true).size(), 1u);

  db->end_session("482913075", "done-again", at(5000));
  auto latest = db->find_session("482913075");
  EXPECT_EQ(latest->fingerprint, "SHA256:c");
  EXPECT_EQ(latest->end_reason, "done-again");
  // The first session kept its own end.
  EXPECT_EQ(db->list_sessions(false)[1].end_reason, "done");
}

// A live session whose device went away is "held" from its device.interrupted until a
// device.resumed; an ended session, or an event of an earlier session with the same ID, is not.
TEST_F(StoreTest, AHeldSessionSaysSinceWhenUntilItsDeviceResumes) {
  auto db = open();
  const json about{{"session", "482913075"}, {"device", ""}, {"fingerprint", "SHA256:a"}};
  db->insert_session(session("482913075", "", "SHA256:a", 1000));
  EXPECT_FALSE(db->find_session("482913075")->held_since);

  db->add_event(events::kDeviceInterrupted, "relay", about, at(2000));
  EXPECT_EQ(db->find_session("482913075")->held_since, at(2000));
  EXPECT_EQ(db->list_sessions(true).at(0).held_since, at(2000));

  db->add_event(events::kDeviceResumed, "relay", about, at(3000));
  EXPECT_FALSE(db->find_session("482913075")->held_since);
  db->add_event(events::kDeviceInterrupted, "relay", about, at(4000));
  EXPECT_EQ(db->find_session("482913075")->held_since, at(4000));

  db->end_session("482913075", "resume grace ran out", at(5000));
  EXPECT_FALSE(db->find_session("482913075")->held_since);
  db->insert_session(session("482913075", "", "SHA256:b", 6000));  // the ID is issued again
  EXPECT_FALSE(db->find_session("482913075")->held_since);
  EXPECT_FALSE(db->session_stories("482913075", true).at(1).session.held_since);
}

TEST_F(StoreTest, PurgeStaleEndsEveryLiveSession) {
  auto db = open();
  enroll(*db, "web-01", "SHA256:dev1");
  db->insert_session(session("100000001", "web-01", "SHA256:dev1", 1000));
  db->insert_session(session("100000002", "", "SHA256:t2", 1100));
  db->insert_session(session("100000003", "", "SHA256:t3", 1200));
  db->end_session("100000003", "agent-exit", at(1300));
  {
    Raw raw(file_);
    raw.exec(
        "INSERT INTO attachments (session_id, operator, fingerprint, mode, started) "
        "VALUES ('100000002', 'bob', 'SHA256:bob', 'own', '" +
        at_iso(1400) + "')");
  }
  EXPECT_EQ(db->purge_stale("relay-restart", at(9000)), 2);
  EXPECT_TRUE(db->list_sessions(true).empty());
  EXPECT_TRUE(db->list_tunnel_keys().empty());
  EXPECT_EQ(db->find_device("web-01")->status, "offline");
  EXPECT_EQ(db->find_session("100000002")->end_reason, "relay-restart");
  EXPECT_EQ(db->find_session("100000003")->end_reason, "agent-exit");
  EXPECT_EQ(Raw(file_).text("SELECT end_reason FROM attachments"), "relay-restart");
  auto ev = db->list_events("janitor.purge", 0);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["detail"]["sessions_ended"], 2);
  EXPECT_EQ(ev[0]["detail"]["keys_purged"], 2);
  EXPECT_EQ(ev[0]["detail"]["reason"], "relay-restart");
  EXPECT_EQ(db->purge_stale("again", at(9500)), 0);
}

TEST_F(StoreTest, PurgeOrphanTunnelKeys) {
  auto db = open();
  db->insert_session(session("100000001", "", "SHA256:live", 1000));
  Raw(file_).exec(
      "INSERT INTO tunnel_keys (fingerprint, session_id, since) VALUES "
      "('SHA256:orphan', '100000009', '" +
      at_iso(500) + "')");
  EXPECT_EQ(db->purge_orphan_tunnel_keys(at(2000)), 1);
  auto keys = db->list_tunnel_keys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].fingerprint, "SHA256:live");
  auto ev = db->list_events("keys.purged", 0);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["detail"]["fingerprints"], nlohmann::json::array({"SHA256:orphan"}));
  EXPECT_EQ(db->purge_orphan_tunnel_keys(at(3000)), 0);
}

TEST_F(StoreTest, NestedTransactionRollsBackOnlyTheInnerPart) {
  auto db = open();
  db->transaction([&] {
    db->add_event(EventKind("outer"), "", {}, at(0));
    EXPECT_THROW(db->transaction([&] {
      db->add_event(EventKind("inner"), "", {}, at(1));
      throw std::runtime_error("boom");
    }),
                 std::runtime_error);
  });
  EXPECT_EQ(db->list_events("outer", 0).size(), 1u);
  EXPECT_EQ(db->list_events("inner", 0).size(), 0u);
  EXPECT_THROW(db->transaction([&] {
    db->add_event(EventKind("lost"), "", {}, at(2));
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_EQ(db->list_events("lost", 0).size(), 0u);
}

// --- enrollment ---

TEST_F(StoreTest, EnrollmentRedeemOnce) {
  auto db = open();
  db->create_enrollment("web-01", "h1", at(0), at(3600000));
  auto rows = db->list_enrollments();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].name, "web-01");
  EXPECT_FALSE(rows[0].used);
  EXPECT_EQ(count_kind(*db, "enroll.created"), 1u);

  auto r = db->redeem_enrollment("h1", "SHA256:k1", "ssh-ed25519 AAAA1", at(1000));
  EXPECT_EQ(r.status, RedeemStatus::kOk);
  EXPECT_EQ(r.device, "web-01");
  auto dev = db->find_device("web-01");
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->fingerprint, "SHA256:k1");
  EXPECT_EQ(dev->key, "ssh-ed25519 AAAA1");
  EXPECT_EQ(dev->enrolled, at(1000));
  EXPECT_EQ(dev->status, "online");
  EXPECT_EQ(db->list_enrollments()[0].used, at(1000));
  EXPECT_EQ(count_kind(*db, "device.enrolled"), 1u);

  // Reuse is refused, and recorded.
  r = db->redeem_enrollment("h1", "SHA256:k2", "ssh-ed25519 AAAA2", at(2000));
  EXPECT_EQ(r.status, RedeemStatus::kAlreadyUsed);
  EXPECT_EQ(db->find_device("web-01")->fingerprint, "SHA256:k1");
  auto refused = db->list_events("enroll.refused", 0);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0]["detail"]["reason"], "already_used");
}

TEST_F(StoreTest, EnrollmentExpiredAndUnknown) {
  auto db = open();
  db->create_enrollment("web-02", "h2", at(0), at(1000));
  EXPECT_EQ(db->redeem_enrollment("h2", "SHA256:k", "k", at(1001)).status, RedeemStatus::kExpired);
  EXPECT_EQ(db->redeem_enrollment("nope", "SHA256:k", "k", at(1002)).status,
            RedeemStatus::kUnknownToken);
  EXPECT_TRUE(db->list_devices().empty());
  EXPECT_FALSE(db->list_enrollments()[0].used);
  auto refused = db->list_events("enroll.refused", 0);
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0]["detail"]["reason"], "unknown_token");  // newest first
  EXPECT_EQ(refused[1]["detail"]["reason"], "expired");
  // Exactly at the expiry time it still works.
  db->create_enrollment("web-03", "h3", at(0), at(1000));
  EXPECT_EQ(db->redeem_enrollment("h3", "SHA256:k3", "k", at(1000)).status, RedeemStatus::kOk);
}

TEST_F(StoreTest, EnrollmentNameTakenAndRevokedReplacement) {
  auto db = open();
  db->create_enrollment("web-01", "ha", at(0), at(3600000));
  db->create_enrollment("web-01", "hb", at(1), at(3600000));
  ASSERT_EQ(db->redeem_enrollment("ha", "SHA256:a", "ka", at(10)).status, RedeemStatus::kOk);
  EXPECT_EQ(db->redeem_enrollment("hb", "SHA256:b", "kb", at(20)).status, RedeemStatus::kNameTaken);
  EXPECT_THROW(db->create_enrollment("web-01", "hc", at(30), at(3600000)), std::runtime_error);

  // Revoked: a new token for the name replaces the old device row.
  db->device_seen("web-01", "revoked", {}, at(40));
  db->device_seen("web-01", "online", {{"hostname", "web-01"}}, at(41));  // stays revoked
  EXPECT_EQ(db->find_device("web-01")->status, "revoked");
  EXPECT_EQ(db->find_device("web-01")->info["hostname"], "web-01");
  db->create_enrollment("web-01", "hd", at(50), at(3600000));
  auto r = db->redeem_enrollment("hd", "SHA256:d", "kd", at(60));
  EXPECT_EQ(r.status, RedeemStatus::kOk);
  auto dev = db->find_device("web-01");
  EXPECT_EQ(dev->fingerprint, "SHA256:d");
  EXPECT_EQ(dev->status, "online");
  EXPECT_EQ(db->list_devices().size(), 1u);

  // A key registered to another device is refused with an exception, and recorded.
  db->create_enrollment("web-09", "he", at(70), at(3600000));
  EXPECT_THROW(db->redeem_enrollment("he", "SHA256:d", "kd", at(80)), std::runtime_error);
  EXPECT_FALSE(db->find_device("web-09"));
  EXPECT_EQ(db->list_events("enroll.refused", 1)[0]["detail"]["reason"], "key_in_use");
}

TEST_F(StoreTest, DeviceSeenUpdatesStatusAndInfo) {
  auto db = open();
  enroll(*db, "web-01", "SHA256:a");
  db->device_seen("web-01", "offline", {{"os", "linux"}}, at(100));
  auto dev = db->find_device("web-01");
  EXPECT_EQ(dev->status, "offline");
  EXPECT_EQ(dev->last_seen, at(100));
  EXPECT_EQ(dev->info["os"], "linux");
  db->device_seen("web-01", "online", nlohmann::json::object(), at(200));  // keeps info
  EXPECT_EQ(db->find_device("web-01")->info["os"], "linux");
  EXPECT_THROW(db->device_seen("web-01", "sleeping", {}, at(300)), std::invalid_argument);
  db->device_seen("nobody", "online", {}, at(300));  // unknown: ignored
  EXPECT_EQ(db->list_devices().size(), 1u);
}

// A device's info sent again: the live session's and the device's rows; an ended session keeps
// what it had, a revoked device is left alone.
TEST_F(StoreTest, UpdateDeviceInfoOnlyWhileLive) {
  auto db = open();
  enroll(*db, "web-01", "SHA256:a");
  db->insert_session(session("100000001", "web-01", "SHA256:a", 1000));
  db->update_device_info("100000001", "web-01", {{"os", "v2"}});
  EXPECT_EQ(db->find_session("100000001")->info["os"], "v2");
  EXPECT_EQ(db->find_device("web-01")->info["os"], "v2");
  db->end_session("100000001", "gone", at(2000));
  db->update_device_info("100000001", "web-01", {{"os", "v3"}});
  EXPECT_EQ(db->find_session("100000001")->info["os"], "v2");
  EXPECT_EQ(db->find_device("web-01")->info["os"], "v2");
  db->insert_session(session("100000002", "web-01", "SHA256:a", 3000));
  db->device_seen("web-01", "revoked", {}, at(3001));
  db->update_device_info("100000002", "web-01", {{"os", "v4"}});
  EXPECT_EQ(db->find_session("100000002")->info["os"], "v4");
  EXPECT_EQ(db->find_device("web-01")->info["os"], "v2");
}

// --- key snapshot and data_version ---

TEST_F(StoreTest, KeySnapshotAndDataVersion) {
  auto db = open();
  enroll(*db, "web-01", "SHA256:a");
  enroll(*db, "web-02", "SHA256:b");
  db->device_seen("web-02", "revoked", {}, at(10));
  auto snap = db->load_key_snapshot();
  EXPECT_EQ(snap.device_by_fingerprint.size(), 1u);
  EXPECT_EQ(snap.device_by_fingerprint.at("SHA256:a"), "web-01");
  EXPECT_EQ(snap.revoked_by_fingerprint.size(), 1u);
  EXPECT_EQ(snap.revoked_by_fingerprint.at("SHA256:b"), "web-02");

  const auto v0 = db->data_version();
  db->add_event(EventKind("own.write"), "", {}, at(20));
  EXPECT_EQ(db->data_version(), v0);  // this connection's own commits do not count
  auto other = Db::open(file_, false);
  other->add_event(EventKind("other.write"), "", {}, at(30));
  EXPECT_NE(db->data_version(), v0);
}

TEST_F(StoreTest, OperatorsAndGrantsInTheKeySnapshot) {
  auto db = open();
  db->add_operator("alice", "ssh-ed25519 AAAAalice", "SHA256:alice", at(0));
  db->add_grant("alice", "web-01", at(1));
  EXPECT_THROW(db->add_operator("alice", "ssh-ed25519 AAAAx", "SHA256:x", at(2)),
               std::runtime_error);
  EXPECT_THROW(db->add_grant("nobody", "web-01", at(2)), std::runtime_error);
  auto snap = db->load_key_snapshot();
  EXPECT_EQ(snap.operator_by_fingerprint.at("SHA256:alice"), "alice");
  EXPECT_EQ(snap.grants.count({"alice", "web-01"}), 1u);
  EXPECT_TRUE(db->remove_operator("alice", at(3)));
  EXPECT_TRUE(db->list_grants().empty());  // ON DELETE CASCADE: foreign keys are on
  EXPECT_FALSE(db->remove_operator("alice", at(4)));
}

// --- events ---

TEST_F(StoreTest, ListEventsByPrefixNewestFirstWithLimit) {
  auto db = open();
  db->add_event(EventKind("auth.failed"), "SHA256:x", {{"n", 1}}, at(1));
  db->add_event(EventKind("auth.ok"), "SHA256:x", {{"n", 2}}, at(2));
  db->add_event(EventKind("authz.denied"), "", {{"n", 3}}, at(3));
  db->add_event(EventKind("consent.yes"), "", {{"bad", std::string("\xff\xfe")}}, at(4));
  auto all = db->list_events("", 0);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0]["kind"], "consent.yes");
  EXPECT_EQ(all[3]["time"], at_iso(1));
  auto auth = db->list_events("auth.", 0);
  ASSERT_EQ(auth.size(), 2u);
  EXPECT_EQ(auth[0]["kind"], "auth.ok");
  EXPECT_EQ(auth[0]["actor"], "SHA256:x");
  EXPECT_EQ(auth[0]["detail"]["n"], 2);
  EXPECT_EQ(db->list_events("auth", 0).size(), 3u);
  EXPECT_EQ(db->list_events("auth", 1).size(), 1u);
  EXPECT_EQ(db->list_events("auth%", 0).size(), 0u);  // no LIKE wildcards
  EXPECT_EQ(db->list_events("authz.denied", 0)[0]["actor"], "");
}

// --- the writer thread ---

// (voluntary, involuntary) context switches of the calling thread so far.
std::pair<long, long> context_switches() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return {ru.ru_nvcsw, ru.ru_nivcsw};
}

std::int64_t count_events(const fs::path& file, const std::string& kind) {
  auto db = Db::open(file, false);
  return static_cast<std::int64_t>(db->list_events(kind, 0).size());
}

TEST_F(StoreTest, StoreNeedsAnInitialisedDatabase) {
  EXPECT_THROW(Store s(file_), std::runtime_error);
}

TEST_F(StoreTest, StoreBatchesManyJobsWithoutBlockingPosters) {
  open().reset();
  constexpr int kJobs = 100000 / test::kLoadDivisor;
  Store store(file_);
  std::chrono::nanoseconds worst{0};
  int blocked = 0;    // posts over 5 ms that waited (a voluntary context switch)
  int preempted = 0;  // posts over 5 ms during which the scheduler took the CPU away
  int refused = 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::thread poster([&] {
    for (int i = 0; i < kJobs; ++i) {
      const long involuntary = context_switches().second;
      const auto a = std::chrono::steady_clock::now();
      const bool ok = store.post([i](Db& db) {
        db.add_event(EventKind("load.tick"), "poster", {{"i", i}}, at(i));
      });
      const auto took = std::chrono::steady_clock::now() - a;
      worst = std::max(worst, took);
      if (took > 5ms) (context_switches().second != involuntary ? preempted : blocked) += 1;
      refused += ok ? 0 : 1;
    }
  });
  poster.join();
  const auto posted = std::chrono::steady_clock::now();
  store.flush();
  const auto flushed = std::chrono::steady_clock::now();
  using std::chrono::duration_cast;
  using ms = std::chrono::milliseconds;
  std::printf(
      "[ info     ] %d posts in %lld ms (worst %lld us; over 5 ms: %d blocked, %d "
      "preempted), all written after %lld ms\n",
      kJobs, static_cast<long long>(duration_cast<ms>(posted - t0).count()),
      static_cast<long long>(duration_cast<std::chrono::microseconds>(worst).count()), blocked,
      preempted, static_cast<long long>(duration_cast<ms>(flushed - t0).count()));
  EXPECT_EQ(refused, 0);
  EXPECT_EQ(store.dropped(), 0u);
  EXPECT_EQ(store.queued(), 0u);
  // A post() that waits for the writer's transaction sleeps for milliseconds about once per
  // batch. A post that is merely preempted on a busy machine (other builds running) is slow
  // too, but that is the scheduler, not the store: those are told apart by the kind of
  // context switch. One or two blocked posts are allowed for a writer preempted while it holds
  // the mutex for its few microseconds.
  EXPECT_LE(blocked, 2) << "post() calls waited for the writer";
  Raw raw(file_);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM events WHERE kind = 'load.tick'"), kJobs);
}

TEST_F(StoreTest, StoreDropsAndCountsWhenTheQueueIsFull) {
  open().reset();
  Store store(file_, 4);
  std::latch running(1), release(1);
  ASSERT_TRUE(store.post([&](Db&) {
    running.count_down();
    release.wait();
  }));
  running.wait();  // the writer holds the blocking job; the queue is empty
  int accepted = 0;
  for (int i = 0; i < 7; ++i) {
    accepted += store.post([i](Db& db) {
      db.add_event(EventKind("queued"), "", {{"i", i}}, at(i));
    });
  }
  EXPECT_EQ(accepted, 4);
  EXPECT_EQ(store.dropped(), 3u);
  EXPECT_EQ(store.queued(), 4u);
  release.count_down();
  store.flush();
  EXPECT_EQ(store.queued(), 0u);
  EXPECT_EQ(count_events(file_, "queued"), 4);
  EXPECT_TRUE(store.post([](Db&) {}));  // room again
}

TEST_F(StoreTest, StoreQueuedJobsShareOneTransaction) {
  open().reset();
  Store store(file_);
  std::latch release(1);
  std::int64_t seen_by_other = -1;
  store.post([&](Db&) { release.wait(); });
  store.post([](Db& db) { db.add_event(EventKind("first"), "", {}, at(1)); });
  store.post([&](Db&) {
    // Another connection does not see the first job's write yet: not committed.
    seen_by_other =
        static_cast<std::int64_t>(Db::open(file_, false)->list_events("first", 0).size());
  });
  release.count_down();
  store.flush();
  EXPECT_EQ(seen_by_other, 0);
  EXPECT_EQ(count_events(file_, "first"), 1);
}

TEST_F(StoreTest, StoreFailingJobDoesNotAbortTheBatch) {
  open().reset();
  Store store(file_);
  std::latch release(1);
  store.post([&](Db&) { release.wait(); });  // hold the writer so the next three share a batch
  store.post([](Db& db) { db.add_event(EventKind("ok.1"), "", {}, at(1)); });
  store.post([](Db& db) {
    db.add_event(EventKind("half"), "", {}, at(2));
    throw std::runtime_error("job failure (expected by the test)");
  });
  store.post([](Db& db) { db.add_event(EventKind("ok.2"), "", {}, at(3)); });
  release.count_down();
  store.flush();
  EXPECT_EQ(count_events(file_, "ok."), 2);
  EXPECT_EQ(count_events(file_, "half"), 0);
}

TEST_F(StoreTest, StoreDestructorDrainsTheQueue) {
  open().reset();
  {
    Store store(file_);
    for (int i = 0; i < 5000; ++i) {
      store.post([i](Db& db) { db.add_event(EventKind("drain"), "", {}, at(i)); });
    }
  }
  EXPECT_EQ(count_events(file_, "drain"), 5000);
}

TEST_F(StoreTest, StoreWatchKeysSeesJobsAndOtherConnections) {
  open().reset();
  Store store(file_);
  std::mutex mu;
  std::vector<std::shared_ptr<const KeySnapshot>> seen;
  std::atomic<std::thread::id> caller;
  store.watch_keys(
      [&](std::shared_ptr<const KeySnapshot> snap) {
        caller = std::this_thread::get_id();
        std::lock_guard lk(mu);
        seen.push_back(std::move(snap));
      },
      20ms);
  auto wait_for = [&](std::size_t n) {
    for (int i = 0; i < 300; ++i) {
      {
        std::lock_guard lk(mu);
        if (seen.size() >= n) return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  };
  ASSERT_TRUE(wait_for(1)) << "no snapshot at registration";
  EXPECT_NE(caller.load(), std::this_thread::get_id());
  {
    std::lock_guard lk(mu);
    EXPECT_TRUE(seen[0]->device_by_fingerprint.empty());
  }

  // A job enrolls a device: the snapshot follows before flush() returns.
  store.post([](Db& db) {
    db.create_enrollment("web-01", "h", at(0), at(3600000));
    db.redeem_enrollment("h", "SHA256:a", "ka", at(1));
  });
  store.flush();
  {
    std::lock_guard lk(mu);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[1]->device_by_fingerprint.at("SHA256:a"), "web-01");
    EXPECT_GT(seen[1]->version, seen[0]->version);
  }

  // Writes that do not change the keys publish nothing.
  store.post([](Db& db) { db.add_event(EventKind("noise"), "", {}, at(2)); });
  store.post([](Db& db) { db.device_seen("web-01", "offline", {}, at(3)); });
  store.flush();
  std::this_thread::sleep_for(60ms);
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(seen.size(), 2u);
  }

  // An operator added by a job is published too.
  store.post([](Db& db) { db.add_operator("alice", "ssh-ed25519 AAAAal", "SHA256:al", at(3)); });
  store.flush();
  {
    std::lock_guard lk(mu);
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[2]->operator_by_fingerprint.at("SHA256:al"), "alice");
  }

  // The admin CLI revokes it through its own connection: noticed by polling.
  Db::open(file_, false)->device_seen("web-01", "revoked", {}, at(4));
  ASSERT_TRUE(wait_for(4)) << "revocation by another connection not noticed";
  std::lock_guard lk(mu);
  EXPECT_TRUE(seen[3]->device_by_fingerprint.empty());
  EXPECT_EQ(seen[3]->revoked_by_fingerprint.at("SHA256:a"), "web-01");
}

// refresh_keys() and its answer, waited for (at most 10 s) from the test's thread.
std::shared_ptr<const KeySnapshot> refresh_and_wait(Store& store,
                                                    const std::function<void()>& on_answer = {}) {
  auto answer = std::make_shared<std::promise<std::shared_ptr<const KeySnapshot>>>();
  auto got = answer->get_future();
  store.refresh_keys([answer, on_answer](std::shared_ptr<const KeySnapshot> snap) {
    if (on_answer) on_answer();
    answer->set_value(std::move(snap));
  });
  if (got.wait_for(10s) != std::future_status::ready) {
    ADD_FAILURE() << "refresh_keys never answered";
    return nullptr;
  }
  return got.get();
}

TEST_F(StoreTest, RefreshKeysPublishesAnotherConnectionsChangeBeforeItAnswers) {
  open().reset();
  Store store(file_);
  std::mutex mu;
  std::vector<std::string> order;  // "published V" and "answered" in the order they happened
  store.watch_keys(
      [&](std::shared_ptr<const KeySnapshot> snap) {
        std::lock_guard lk(mu);
        order.push_back("published " + std::to_string(snap->version));
      },
      1h);  // the poll never comes during the test: only a refresh can notice the change
  auto answered = [&] {
    std::lock_guard lk(mu);
    order.push_back("answered");
  };
  ASSERT_NE(refresh_and_wait(store), nullptr);  // the snapshot at registration is out

  // The admin CLI's connection adds an operator and a grant; the refresh sees both, and the
  // new snapshot was handed over before the answer.
  {
    auto cli = Db::open(file_, false);
    cli->add_operator("alice", "ssh-ed25519 AAAAal", "SHA256:al", at(1));
    cli->add_grant("alice", "web-01", at(2));
  }
  {
    std::lock_guard lk(mu);
    order.clear();
  }
  auto snap = refresh_and_wait(store, answered);
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->operator_by_fingerprint.at("SHA256:al"), "alice");
  EXPECT_EQ(snap->grants.count({"alice", "web-01"}), 1u);
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(order,
              (std::vector<std::string>{"published " + std::to_string(snap->version), "answered"}));
    order.clear();
  }

  // Nothing changed: the same snapshot, nothing published.
  auto same = refresh_and_wait(store, answered);
  ASSERT_NE(same, nullptr);
  EXPECT_EQ(same->version, snap->version);
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(order, std::vector<std::string>{"answered"});
  }

  // A removal is seen the same way.
  Db::open(file_, false)->remove_grant("alice", "web-01", at(3));
  auto removed = refresh_and_wait(store);
  ASSERT_NE(removed, nullptr);
  EXPECT_EQ(removed->grants.count({"alice", "web-01"}), 0u);
  EXPECT_GT(removed->version, snap->version);
}

TEST_F(StoreTest, RefreshKeysCountsForFlushAndWorksWithoutAWatcher) {
  open().reset();
  Db::open(file_, false)->add_operator("bob", "ssh-ed25519 AAAAbo", "SHA256:bo", at(1));
  Store store(file_);
  std::atomic<bool> called{false};
  std::shared_ptr<const KeySnapshot> seen;
  store.refresh_keys([&](std::shared_ptr<const KeySnapshot> snap) {
    seen = std::move(snap);
    called = true;
  });
  store.flush();  // returns only once the refresh has answered
  ASSERT_TRUE(called.load());
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(seen->operator_by_fingerprint.at("SHA256:bo"), "bob");
}

}  // namespace
}  // namespace sb::store
