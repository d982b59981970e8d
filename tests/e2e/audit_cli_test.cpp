// The read side of the audit, end to end: a real relay, agent and operator exec, then what an
// admin sees from `relay audit`, `relay session show` and `relay device show`, and
// `relay serve --audit-retention` pruning old rows at start. Attachments and channels are
// written by the live path (another branch): extend the checks here when they land.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "common/util.hpp"
#include "harness.hpp"
#include "operator_support.hpp"
#include "relay/store/store.hpp"

namespace sb::e2e {
namespace {

class AuditCli : public OperatorTest {};

bool has_kind(const nlohmann::json& rows, const std::string& kind) {
  return !find_by(rows, "kind", kind).is_null();
}

TEST_F(AuditCli, AdhocExecIsInTheAuditAndTheSessionStory) {
  start_device({"alice"});
  auto r = exec("alice", "echo hi; exit 3");
  ASSERT_EQ(r.exit_code, 3) << r.err;

  // The store writes behind a queue: wait for the consent answer to land.
  nlohmann::json rows;
  ASSERT_TRUE(wait_until([&] {
    rows = relay().admin_json({"audit", "--session", spaced_session_id(id_)});
    return has_kind(rows, "consent.answered");
  }));
  auto issued = find_by(rows, "kind", "session.issued");
  ASSERT_FALSE(issued.is_null()) << rows.dump(2);
  EXPECT_EQ(issued["session"], id_);
  EXPECT_TRUE(issued["device"].is_null());  // ad hoc
  auto answered = find_by(rows, "kind", "consent.answered");
  EXPECT_EQ(answered["operator"], "alice");
  EXPECT_EQ(answered["detail"]["allow"], true);
  EXPECT_LT(rows[1]["id"].get<std::int64_t>(), rows[0]["id"].get<std::int64_t>());  // newest 1st

  // Filters: by operator, by kind prefix, by time.
  auto by_alice = relay().admin_json({"audit", "--operator", "alice"});
  EXPECT_TRUE(has_kind(by_alice, "consent.answered")) << by_alice.dump(2);
  EXPECT_FALSE(has_kind(by_alice, "session.issued"));
  auto sessions_only = relay().admin_json({"audit", "--kind", "session"});
  ASSERT_FALSE(sessions_only.empty());
  for (const auto& row : sessions_only)
    EXPECT_EQ(row["kind"].get<std::string>().rfind("session", 0), 0u) << row.dump();
  EXPECT_TRUE(
      has_kind(relay().admin_json({"audit", "--since", "1h", "--until", "now"}), "session.issued"));
  EXPECT_TRUE(relay().admin_json({"audit", "--until", "1h"}).empty());

  // The readable table: local times, spaced session ID, a human detail and the paging footer.
  auto table = relay().admin({"audit", "--session", id_, "--limit", "1", "--page", "2"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("TIME"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(spaced_session_id(id_)), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("page 2 of "), std::string::npos) << table.out;
  auto full = relay().admin({"audit", "--session", id_});
  EXPECT_NE(full.out.find(": allowed"), std::string::npos) << full.out;

  // The session's story.
  auto story = relay().admin_json({"session", "show", id_});
  EXPECT_EQ(story["id"], id_);
  EXPECT_EQ(story["active"], true);
  EXPECT_TRUE(has_kind(story["events"], "session.issued")) << story.dump(2);
  EXPECT_TRUE(has_kind(story["events"], "consent.answered")) << story.dump(2);
  auto text = relay().admin({"session", "show", spaced_session_id(id_)});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("Session " + spaced_session_id(id_) + " (live)"), std::string::npos)
      << text.out;

  // Clear errors.
  auto unknown = relay().admin({"session", "show", "100000001"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no session 100 000 001"), std::string::npos) << unknown.err;
  auto bad_time = relay().admin({"audit", "--since", "tomorrow"});
  EXPECT_NE(bad_time.exit_code, 0);
  EXPECT_NE(bad_time.err.find("2026-11-01 14:30"), std::string::npos) << bad_time.err;
  auto bad_id = relay().admin({"audit", "--session", "12x"});
  EXPECT_NE(bad_id.exit_code, 0);
  EXPECT_NE(bad_id.err.find("not a session ID"), std::string::npos) << bad_id.err;
}

TEST_F(AuditCli, DeviceShowTellsStatusGrantsAndRecentSessions) {
  start_relay({"bob"});
  std::string token = create_enroll_token(relay(), "web-01");
  ASSERT_EQ(relay().admin({"grant", "add", "bob", "web-01"}).exit_code, 0);
  start_enrolled_agent(token);

  nlohmann::json device;
  ASSERT_TRUE(wait_until([&] {
    device = relay().admin_json({"device", "show", "web-01"});
    return device.value("status", "") == "online";
  })) << device.dump(2);
  EXPECT_EQ(device["grants"], nlohmann::json::array({"bob"}));
  ASSERT_EQ(device["recent_sessions"].size(), 1u) << device.dump(2);
  EXPECT_EQ(device["recent_sessions"][0]["id"], id_);
  EXPECT_EQ(device["recent_sessions"][0]["active"], true);
  auto text = relay().admin({"device", "show", "web-01"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("status:    online"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Grants (1): bob"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(spaced_session_id(id_)), std::string::npos) << text.out;
  EXPECT_TRUE(has_kind(relay().admin_json({"audit", "--device", "web-01"}), "session.issued"));

  auto unknown = relay().admin({"device", "show", "nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no enrolled device named 'nope'"), std::string::npos) << unknown.err;

  // The agent stops: the device goes offline and its session shows how it ended.
  agent().signal(SIGTERM);
  ASSERT_TRUE(agent().wait(10s));
  ASSERT_TRUE(wait_until([&] {
    device = relay().admin_json({"device", "show", "web-01"});
    return device.value("status", "") == "offline";
  })) << device.dump(2);
  EXPECT_FALSE(device["recent_sessions"][0]["ended"].is_null());
  EXPECT_TRUE(
      has_kind(relay().admin_json({"audit", "--device", "web-01", "--kind", "session.ended"}),
               "session.ended"));
}

TEST_F(AuditCli, ServeWithRetentionPrunesOldRowsAtStart) {
  TempDir tmp;
  Relay relay(tmp / "relay", Relay::Options{"1s", {"--audit-retention", "30d"}});
  ASSERT_EQ(relay.stop(), 0);
  {
    auto db = store::Db::open(relay.data_dir() / "relay.db", false);
    db->add_event(store::EventKind("test.old"), "", {{"n", 1}},
                  *parse_time("2020-01-01T00:00:00.000Z"));
    db->add_event(store::EventKind("test.recent"), "", {{"n", 2}}, utc_now());
  }
  relay.restart();
  nlohmann::json pruned;
  ASSERT_TRUE(wait_until([&] {
    pruned = relay.admin_json({"audit", "--kind", "audit.pruned"});
    return !pruned.empty() && pruned[0]["detail"].value("events", 0) == 1;
  })) << pruned.dump(2);
  EXPECT_TRUE(relay.admin_json({"audit", "--kind", "test.old"}).empty());
  EXPECT_EQ(relay.admin_json({"audit", "--kind", "test.recent"}).size(), 1u);
  auto bad = run({relay_bin(), "serve", "--data-dir", relay.data_dir().string(),
                  "--audit-retention", "forever"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--audit-retention"), std::string::npos) << bad.err;
}

// Recordings follow the retention: an old session's recording (its rows written with old
// timestamps before the relay starts) and a file the store no longer knows, last written long
// ago, are deleted; a recent session's recording and stray files stay.
TEST_F(AuditCli, ServeWithRetentionDeletesOldRecordingsAndKeepsRecentOnes) {
  TempDir tmp;
  Relay relay(tmp / "relay", Relay::Options{"1s", {"--audit-retention", "30d"}});
  ASSERT_EQ(relay.stop(), 0);
  const auto rec = relay.data_dir() / "recordings";
  const auto write = [](const std::filesystem::path& file, std::size_t bytes) {
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << std::string(bytes, 'x');
  };
  const auto old_cast = rec / "111111111" / "20200101T000500Z_shared.cast";
  const auto forgotten_cast = rec / "333333333" / "20200101T000000Z_own-bob.cast";
  const auto stray = rec / "111111111" / "notes.txt";
  // Named like the recorder names a file it creates now.
  const std::time_t now_secs = std::time(nullptr);
  std::tm now_tm{};
  gmtime_r(&now_secs, &now_tm);
  char recent_name[40];
  std::strftime(recent_name, sizeof recent_name, "%Y%m%dT%H%M%SZ_shared.cast", &now_tm);
  const auto recent_cast = rec / "222222222" / recent_name;
  write(old_cast, 1000);
  write(forgotten_cast, 500);
  write(stray, 10);
  write(recent_cast, 100);
  std::filesystem::last_write_time(
      forgotten_cast, std::filesystem::file_time_type::clock::now() - std::chrono::hours(24 * 365));
  {
    auto db = store::Db::open(relay.data_dir() / "relay.db", false);
    auto adhoc_session = [](std::string id, std::string fingerprint, Time started) {
      store::SessionStart s;
      s.id = std::move(id);
      s.fingerprint = std::move(fingerprint);
      s.kind = "adhoc";
      s.started = started;
      return s;
    };
    db->insert_session(
        adhoc_session("111111111", "SHA256:old", *parse_time("2020-01-01T00:00:00.000Z")));
    db->end_session("111111111", "agent closed", *parse_time("2020-01-01T01:00:00.000Z"));
    db->insert_session(adhoc_session("222222222", "SHA256:recent", utc_now()));
    db->end_session("222222222", "agent closed", utc_now());
  }
  relay.restart();
  nlohmann::json pruned;
  ASSERT_TRUE(wait_until([&] {
    pruned = relay.admin_json({"audit", "--kind", "audit.pruned"});
    return !pruned.empty();
  })) << pruned.dump(2);
  EXPECT_EQ(pruned[0]["detail"].value("recordings", 0), 2) << pruned.dump(2);
  EXPECT_EQ(pruned[0]["detail"].value("recording_bytes", 0), 1500) << pruned.dump(2);
  EXPECT_EQ(pruned[0]["detail"].value("sessions", 0), 1) << pruned.dump(2);
  EXPECT_FALSE(std::filesystem::exists(old_cast));
  EXPECT_FALSE(std::filesystem::exists(rec / "333333333"));  // emptied, removed
  EXPECT_TRUE(std::filesystem::exists(stray));
  EXPECT_TRUE(std::filesystem::exists(recent_cast));
  auto table = relay.admin({"audit", "--kind", "audit.pruned"});
  EXPECT_NE(table.out.find("2 recordings (1.5 KiB)"), std::string::npos) << table.out;
  auto story = relay.admin_json({"session", "show", "222222222"});
  EXPECT_EQ(story["id"], "222222222");
  EXPECT_NE(relay.admin({"session", "show", "111111111"}).exit_code, 0);
}

}  // namespace
}  // namespace sb::e2e
