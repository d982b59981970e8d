// Unit tests of the audit rows written from the live path (relay/store/audit_writes.cpp):
// attachments and channels with relay-assigned IDs, the ID allocator, and device revocation.
#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "relay/store/store.hpp"
#include "test_support.hpp"

namespace sb::store {
namespace {

class AuditWrites : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = Db::open(dir_.path() / "relay.db", true);
    db_->insert_session({"482913075", "", "SHA256:dev", "ssh-ed25519 AAAA", "adhoc", "127.0.0.1",
                         test::utc("2026-11-22T03:00:00.000Z"), nlohmann::json::object()});
  }
  AttachmentStart attachment(std::int64_t id) {
    return {id,
            "482913075",
            "alice",
            "SHA256:alice",
            "shared",
            "10.0.0.7",
            test::utc("2026-11-22T03:00:01.000Z")};
  }
  test::TempDir dir_;
  std::unique_ptr<Db> db_;
};

TEST_F(AuditWrites, AttachmentAndChannelRoundTrip) {
  db_->insert_attachment(attachment(7));
  db_->insert_channel({11, 7, "exec", "", "uname -a", test::utc("2026-11-22T03:00:02.000Z")});
  db_->end_channel({11, 3, "", 5, 1234, test::utc("2026-11-22T03:00:03.000Z")});
  db_->end_attachment(7, "operator left", test::utc("2026-11-22T03:00:04.000Z"));

  auto rows = db_->attachment_rows("482913075");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, 7);
  EXPECT_EQ(rows[0].operator_name, "alice");
  EXPECT_EQ(rows[0].fingerprint, "SHA256:alice");
  EXPECT_EQ(rows[0].mode, "shared");
  EXPECT_EQ(rows[0].source_addr, "10.0.0.7");
  EXPECT_EQ(rows[0].ended, test::utc("2026-11-22T03:00:04.000Z"));
  EXPECT_EQ(rows[0].end_reason, "operator left");

  auto channels = db_->channel_rows(7);
  ASSERT_EQ(channels.size(), 1u);
  EXPECT_EQ(channels[0].id, 11);
  EXPECT_EQ(channels[0].kind, "exec");
  EXPECT_EQ(channels[0].command, "uname -a");
  ASSERT_TRUE(channels[0].exit_status);
  EXPECT_EQ(*channels[0].exit_status, 3);
  EXPECT_EQ(channels[0].bytes_in, 5u);
  EXPECT_EQ(channels[0].bytes_out, 1234u);
  EXPECT_EQ(channels[0].ended, test::utc("2026-11-22T03:00:03.000Z"));
}

TEST_F(AuditWrites, EndingAnAttachmentTwiceKeepsTheFirstEnd) {
  db_->insert_attachment(attachment(1));
  db_->end_attachment(1, "killed by admin:root", test::utc("2026-11-22T03:00:05.000Z"));
  db_->end_attachment(1, "operator left", test::utc("2026-11-22T03:00:09.000Z"));
  auto rows = db_->attachment_rows("482913075");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].end_reason, "killed by admin:root");
  EXPECT_EQ(rows[0].ended, test::utc("2026-11-22T03:00:05.000Z"));
}

TEST_F(AuditWrites, EndingAnAttachmentEndsItsOpenChannelsAndTheChannelEndStillLands) {
  db_->insert_attachment(attachment(1));
  db_->insert_channel({1, 1, "proxy", "10.1.2.3:80", "", test::utc("2026-11-22T03:00:02.000Z")});
  db_->end_session("482913075", "tunnel dropped", test::utc("2026-11-22T03:00:05.000Z"));
  auto channels = db_->channel_rows(1);
  ASSERT_EQ(channels.size(), 1u);
  EXPECT_EQ(channels[0].ended, test::utc("2026-11-22T03:00:05.000Z"));
  EXPECT_FALSE(channels[0].exit_status);
  // The reactor's own record of the channel arrives after the session ended.
  db_->end_channel({1, std::nullopt, "KILL", 10, 20, test::utc("2026-11-22T03:00:05.100Z")});
  channels = db_->channel_rows(1);
  EXPECT_EQ(channels[0].exit_signal, "KILL");
  EXPECT_EQ(channels[0].bytes_in, 10u);
  EXPECT_EQ(channels[0].bytes_out, 20u);
  EXPECT_EQ(db_->attachment_rows("482913075")[0].end_reason, "tunnel dropped");
}

TEST_F(AuditWrites, InvalidRowsAreRefused) {
  EXPECT_THROW(db_->insert_attachment(attachment(0)), std::invalid_argument);
  auto a = attachment(1);
  a.operator_name.clear();
  EXPECT_THROW(db_->insert_attachment(a), std::invalid_argument);
  EXPECT_THROW(db_->insert_channel({1, 1, "", "", "", test::utc("2026-11-22T03:00:02.000Z")}),
               std::invalid_argument);
  db_->insert_attachment(attachment(1));
  EXPECT_ANY_THROW(db_->insert_attachment(attachment(1)));  // the ID is taken
}

TEST_F(AuditWrites, AllocatorsStartAfterTheStoredIds) {
  EXPECT_EQ(db_->max_audit_ids(), (std::pair<std::int64_t, std::int64_t>{0, 0}));
  db_->insert_attachment(attachment(41));
  db_->insert_channel({99, 41, "shell", "shared", "", test::utc("2026-11-22T03:00:02.000Z")});
  auto [attachments, channels] = db_->max_audit_ids();
  AuditIds ids;
  ids.attachments.reset(attachments);
  ids.channels.reset(channels);
  EXPECT_EQ(ids.attachments.next(), 42);
  EXPECT_EQ(ids.channels.next(), 100);
  EXPECT_EQ(ids.channels.next(), 101);
}

TEST(IdAllocator, ThreadsNeverGetTheSameId) {
  IdAllocator ids(10);
  std::vector<std::vector<std::int64_t>> got(4);
  std::vector<std::thread> threads;
  for (auto& mine : got)
    threads.emplace_back([&ids, &mine] {
      for (int i = 0; i < 1000; ++i) mine.push_back(ids.next());
    });
  for (auto& t : threads) t.join();
  std::set<std::int64_t> all;
  for (const auto& mine : got) all.insert(mine.begin(), mine.end());
  EXPECT_EQ(all.size(), 4000u);
  EXPECT_EQ(*all.begin(), 11);
  EXPECT_EQ(*all.rbegin(), 4010);
}

TEST_F(AuditWrites, RevokeMarksTheDeviceAndMovesItsKeyToTheRevokedSet) {
  db_->create_enrollment("web-01", "hash", test::utc("2026-11-22T03:00:00.000Z"),
                         test::utc("2099-01-01T00:00:00.000Z"));
  ASSERT_EQ(db_->redeem_enrollment("hash", "SHA256:web", "ssh-ed25519 AAAA web",
                                   test::utc("2026-11-22T03:00:01.000Z"))
                .status,
            RedeemStatus::kOk);
  EXPECT_EQ(db_->load_key_snapshot().device_by_fingerprint.count("SHA256:web"), 1u);

  EXPECT_TRUE(db_->revoke_device("web-01", "root", test::utc("2026-11-22T03:00:02.000Z")));
  EXPECT_FALSE(db_->revoke_device("nope", "root", test::utc("2026-11-22T03:00:02.000Z")));
  auto snap = db_->load_key_snapshot();
  EXPECT_EQ(snap.device_by_fingerprint.count("SHA256:web"), 0u);
  EXPECT_EQ(snap.revoked_by_fingerprint.at("SHA256:web"), "web-01");
  EXPECT_EQ(db_->find_device("web-01")->status, "revoked");
  auto events = db_->list_events("device.revoked", 10);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["actor"], "admin:root");
  EXPECT_EQ(events[0]["detail"]["device"], "web-01");
  EXPECT_EQ(events[0]["detail"]["fingerprint"], "SHA256:web");
  EXPECT_EQ(events[0]["detail"]["by"], "root");
}

}  // namespace
}  // namespace sb::store
