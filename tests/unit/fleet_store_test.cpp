// Bulk enrollment and groups in the store: a token's uses (never exceeded, even by concurrent
// connections), names from hostnames made unique with a suffix, revocation, group membership and
// grants to a group in the key snapshot, and the schema step that brought them.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/names.hpp"
#include "relay/store/migrations.hpp"
#include "relay/store/store.hpp"
#include "test_support.hpp"

namespace sb::store {
namespace {

using test::at;

class FleetStoreTest : public ::testing::Test {
 protected:
  std::filesystem::path file() const { return tmp_.path() / "relay.db"; }
  std::unique_ptr<Db> open() { return Db::open(file(), true); }

  static Redemption use(const std::string& hash, const std::string& fp, const std::string& hostname,
                        std::int64_t t = 10, const std::string& wanted = "") {
    return {hash, "SHA256:" + fp, "ssh-ed25519 AAAA" + fp, wanted, hostname, at(t)};
  }
  static NewEnrollment hostname_token(const std::string& hash, int max_uses,
                                      const std::string& group = "") {
    return {"", group, max_uses, hash, at(0), at(3600000)};
  }
  static std::size_t count_kind(Db& db, const std::string& kind) {
    return db.list_events(kind, 0).size();
  }

  test::TempDir tmp_;
};

TEST_F(FleetStoreTest, HostnameTokenEnrollsUpToItsUsesEachUnderAUniqueName) {
  auto db = open();
  const std::string id = db->create_enrollment(hostname_token("hash-many", 3, "kiosks"));
  EXPECT_EQ(id.size(), 12u);
  auto rows = db->list_enrollments();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, id);
  EXPECT_EQ(rows[0].name, "");
  EXPECT_EQ(rows[0].group, "kiosks");
  EXPECT_EQ(rows[0].uses_left(at(1)), 3);

  std::vector<std::string> names;
  for (int i = 1; i <= 3; ++i) {
    auto r = db->redeem_enrollment(use("hash-many", "k" + std::to_string(i), "Kiosk", 10 + i));
    ASSERT_EQ(r.status, RedeemStatus::kOk) << i;
    names.push_back(r.device);
    EXPECT_EQ(db->find_device(r.device)->groups, std::vector<std::string>{"kiosks"});
  }
  EXPECT_EQ(names, (std::vector<std::string>{"kiosk", "kiosk-2", "kiosk-3"}));

  // The fourth is refused, says how many uses the token had, and changes nothing.
  auto r = db->redeem_enrollment(use("hash-many", "k4", "kiosk", 20));
  EXPECT_EQ(r.status, RedeemStatus::kAlreadyUsed);
  EXPECT_EQ(r.max_uses, 3);
  EXPECT_EQ(db->list_devices().size(), 3u);
  rows = db->list_enrollments();
  EXPECT_EQ(rows[0].uses, 3);
  EXPECT_EQ(rows[0].uses_left(at(30)), 0);
  EXPECT_EQ(rows[0].used, at(13));

  // Every use audited, with the token and the use's number.
  auto enrolled = db->list_events("device.enrolled", 0);
  ASSERT_EQ(enrolled.size(), 3u);
  EXPECT_EQ(enrolled[0]["detail"]["token"], id);  // newest first
  EXPECT_EQ(enrolled[0]["detail"]["use"], 3);
  EXPECT_EQ(enrolled[0]["detail"]["max_uses"], 3);
  EXPECT_EQ(enrolled[0]["detail"]["hostname"], "Kiosk");
  EXPECT_EQ(enrolled[0]["detail"]["group"], "kiosks");
  auto refused = db->list_events("enroll.refused", 0);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0]["detail"]["reason"], "already_used");
  EXPECT_EQ(refused[0]["detail"]["token"], id);
  auto created = db->list_events("enroll.created", 0);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0]["detail"]["from_hostname"], true);
  EXPECT_EQ(created[0]["detail"]["max_uses"], 3);
}

TEST_F(FleetStoreTest, NamesSkipDevicesRevokedOnesAndNamesOtherTokensPromise) {
  auto db = open();
  // web-01 enrolled and then revoked; web-01-2 promised to a device by a named token.
  db->create_enrollment("web-01", "hash-named", at(0), at(3600000));
  ASSERT_EQ(db->redeem_enrollment("hash-named", "SHA256:old", "k", at(1)).status,
            RedeemStatus::kOk);
  ASSERT_TRUE(db->revoke_device("web-01", "admin", at(2)));
  db->create_enrollment("web-01-2", "hash-promised", at(3), at(3600000));
  db->create_enrollment(hostname_token("hash-many", 5));

  auto r = db->redeem_enrollment(use("hash-many", "a", "WEB-01", 10));
  ASSERT_EQ(r.status, RedeemStatus::kOk);
  EXPECT_EQ(r.device, "web-01-3");
  EXPECT_EQ(db->find_device("web-01")->status, "revoked") << "a revoked device is not replaced";
  // The named token still gets its name.
  EXPECT_EQ(db->redeem_enrollment("hash-promised", "SHA256:p", "kp", at(11)).device, "web-01-2");

  // The agent's own --name is taken exactly, never suffixed.
  r = db->redeem_enrollment(use("hash-many", "b", "whatever", 12, "pos-7"));
  EXPECT_EQ(r.status, RedeemStatus::kOk);
  EXPECT_EQ(r.device, "pos-7");
  r = db->redeem_enrollment(use("hash-many", "c", "whatever", 13, "pos-7"));
  EXPECT_EQ(r.status, RedeemStatus::kNameTaken);
  // A hostname that makes no name is refused (recorded), and costs no use.
  for (const char* bad : {"", "1234", "---", "relay"}) {
    r = db->redeem_enrollment(use("hash-many", "d", bad, 14));
    EXPECT_EQ(r.status, RedeemStatus::kBadHostname) << bad;
  }
  auto tokens = db->list_enrollments();
  auto many = std::find_if(tokens.begin(), tokens.end(), [](auto& t) { return t.name.empty(); });
  ASSERT_NE(many, tokens.end());
  EXPECT_EQ(many->uses, 2);
  EXPECT_EQ(db->list_events("enroll.refused", 1)[0]["detail"]["reason"], "bad_hostname");
}

TEST_F(FleetStoreTest, NamedTokensStaySingleUse) {
  auto db = open();
  EXPECT_THROW(db->create_enrollment({"web-01", "", 2, "h", at(0), at(1000)}),
               std::invalid_argument);
  EXPECT_THROW(db->create_enrollment({"", "", 0, "h", at(0), at(1000)}), std::invalid_argument);
  EXPECT_THROW(db->create_enrollment({"", "", kMaxEnrollUses + 1, "h", at(0), at(1000)}),
               std::invalid_argument);
  EXPECT_THROW(db->create_enrollment({"", "Bad Group", 2, "h", at(0), at(1000)}),
               std::invalid_argument);
  db->create_enrollment("web-01", "h1", at(0), at(3600000));
  auto row = db->list_enrollments()[0];
  EXPECT_EQ(row.max_uses, 1);
  EXPECT_EQ(row.name, "web-01");
  // The agent's hostname and --name do not matter for a named token.
  auto r = db->redeem_enrollment(use("h1", "a", "something-else", 10, ""));
  EXPECT_EQ(r.device, "web-01");
  EXPECT_EQ(db->redeem_enrollment(use("h1", "b", "x", 11)).status, RedeemStatus::kAlreadyUsed);
}

TEST_F(FleetStoreTest, RevokedTokenIsRefused) {
  auto db = open();
  const std::string id = db->create_enrollment(hostname_token("hash-r", 10));
  ASSERT_EQ(db->redeem_enrollment(use("hash-r", "a", "pc", 10)).status, RedeemStatus::kOk);
  EXPECT_TRUE(db->revoke_enrollment(id, "admin", at(20)));
  EXPECT_TRUE(db->revoke_enrollment(id, "admin", at(21)));  // again: not an error
  EXPECT_FALSE(db->revoke_enrollment("nope", "admin", at(22)));
  EXPECT_EQ(db->redeem_enrollment(use("hash-r", "b", "pc", 30)).status, RedeemStatus::kRevoked);
  auto row = db->list_enrollments()[0];
  EXPECT_EQ(row.revoked, at(20));
  EXPECT_EQ(row.uses, 1);
  EXPECT_EQ(row.uses_left(at(30)), 0);
  EXPECT_EQ(count_kind(*db, "enroll.revoked"), 1u);
  EXPECT_TRUE(db->find_device("pc")) << "devices it enrolled stay";
}

// Twenty connections (as the relay's writer and admin CLIs would be) redeem one token with ten
// uses at the same moment: exactly ten devices, ten distinct names.
TEST_F(FleetStoreTest, ConcurrentRedemptionsNeverExceedUsesNorShareAName) {
  open()->create_enrollment(hostname_token("hash-race", 10));
  constexpr int kDevices = 20;
  std::atomic<int> ok{0}, used_up{0}, other{0};
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < kDevices; ++i) {
    threads.emplace_back([&, i] {
      auto db = Db::open(file(), false);
      while (!go.load()) std::this_thread::yield();
      auto r = db->redeem_enrollment(use("hash-race", "r" + std::to_string(i), "pc", 10 + i));
      (r.status == RedeemStatus::kOk            ? ok
       : r.status == RedeemStatus::kAlreadyUsed ? used_up
                                                : other)++;
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(used_up.load(), 10);
  EXPECT_EQ(other.load(), 0);
  auto db = open();
  auto devices = db->list_devices();
  ASSERT_EQ(devices.size(), 10u);
  std::set<std::string> names;
  for (const auto& d : devices) names.insert(d.name);
  EXPECT_EQ(names.size(), 10u);
  EXPECT_TRUE(names.count("pc"));
  EXPECT_TRUE(names.count("pc-10"));
  EXPECT_EQ(db->list_enrollments()[0].uses, 10);
}

TEST_F(FleetStoreTest, GroupMembershipAndGroupGrantsInTheKeySnapshot) {
  auto db = open();
  db->create_enrollment(hostname_token("hash-g", 5, "kiosks"));
  ASSERT_EQ(db->redeem_enrollment(use("hash-g", "a", "k-a", 1)).device, "k-a");
  db->create_enrollment("web-01", "hash-w", at(0), at(3600000));
  ASSERT_EQ(db->redeem_enrollment(use("hash-w", "w", "x", 2)).device, "web-01");
  db->add_operator("alice", "ssh-ed25519 AAAAalice", "SHA256:alice", at(3));
  db->add_grant("alice", "@kiosks", at(4));
  EXPECT_EQ(db->list_events("grant.added", 1)[0]["detail"]["group"], "kiosks");

  auto snap = db->load_key_snapshot();
  EXPECT_TRUE(snap.may_join("alice", "k-a"));
  EXPECT_FALSE(snap.may_join("alice", "web-01"));
  EXPECT_FALSE(snap.may_join("bob", "k-a"));

  // A device put in the group, and one enrolled into it later: both covered.
  (void)db->keys_changed();
  EXPECT_EQ(db->add_device_groups("web-01", {"kiosks", "lobby"}, "root", at(5)),
            (std::vector<std::string>{"kiosks", "lobby"}));
  EXPECT_TRUE(db->keys_changed()) << "the relay must reload its snapshot";
  EXPECT_TRUE(db->add_device_groups("web-01", {"kiosks"}, "root", at(6)).empty());
  ASSERT_EQ(db->redeem_enrollment(use("hash-g", "b", "k-b", 7)).device, "k-b");
  snap = db->load_key_snapshot();
  EXPECT_TRUE(snap.may_join("alice", "web-01"));
  EXPECT_TRUE(snap.may_join("alice", "k-b"));
  EXPECT_EQ(snap.devices_by_group.at("kiosks"), (std::vector<std::string>{"k-a", "k-b", "web-01"}));
  EXPECT_EQ(snap.groups_by_device.at("web-01"), (std::vector<std::string>{"kiosks", "lobby"}));
  EXPECT_EQ(db->find_device("web-01")->groups, (std::vector<std::string>{"kiosks", "lobby"}));
  auto story = db->device_story("web-01", 0);
  ASSERT_TRUE(story);
  ASSERT_EQ(story->grants.size(), 1u);
  EXPECT_EQ(story->grants[0].device, "@kiosks");

  // Out of the group: no longer covered; the group grant's removal does the same.
  EXPECT_EQ(db->remove_device_groups("web-01", {"kiosks", "nope"}, "root", at(8)),
            std::vector<std::string>{"kiosks"});
  EXPECT_FALSE(db->load_key_snapshot().may_join("alice", "web-01"));
  EXPECT_TRUE(db->remove_grant("alice", "@kiosks", at(9)));
  EXPECT_FALSE(db->load_key_snapshot().may_join("alice", "k-a"));
  EXPECT_EQ(count_kind(*db, "device.grouped"), 2u);  // k-a and k-b: in device.enrolled
  EXPECT_EQ(count_kind(*db, "device.ungrouped"), 1u);

  // Unknown devices, bad names and too many groups are refused, and change nothing.
  EXPECT_THROW(db->add_device_groups("ghost", {"kiosks"}, "root", at(10)), std::runtime_error);
  EXPECT_THROW(db->add_device_groups("web-01", {"Bad!"}, "root", at(10)), std::invalid_argument);
  std::vector<std::string> many;
  for (std::size_t i = 0; i <= kMaxGroupsPerDevice; ++i) many.push_back("g" + std::to_string(i));
  EXPECT_THROW(db->add_device_groups("web-01", many, "root", at(11)), std::runtime_error);
  EXPECT_EQ(db->find_device("web-01")->groups, std::vector<std::string>{"lobby"});
}

TEST_F(FleetStoreTest, SchemaStepKeepsTokensStoredBefore) {
  {
    testing::RawSql raw(file());
    ASSERT_EQ(detail::apply_migrations(raw.handle(), detail::schema_migrations().first(2)), 2);
    raw.exec(
        "INSERT INTO enrollments (token_hash, name, created, expires, used, used_by) VALUES "
        "('aaaaaaaaaaaaaaaaaaaa', 'old-used', '2026-01-01T00:00:00.000Z', "
        "'2026-01-02T00:00:00.000Z', '2026-01-01T00:10:00.000Z', 'SHA256:x'), "
        "('bbbbbbbbbbbbbbbbbbbb', 'old-open', '2026-01-01T00:00:01.000Z', "
        "'2099-01-02T00:00:00.000Z', NULL, NULL)");
  }
  auto db = Db::open(file(), false);
  auto rows = db->list_enrollments();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].name, "old-open");
  EXPECT_EQ(rows[0].id, "bbbbbbbbbbbb");
  EXPECT_EQ(rows[0].uses, 0);
  EXPECT_EQ(rows[0].max_uses, 1);
  EXPECT_EQ(rows[1].id, "aaaaaaaaaaaa");
  EXPECT_EQ(rows[1].uses, 1);
  EXPECT_EQ(db->redeem_enrollment("bbbbbbbbbbbbbbbbbbbb", "SHA256:o", "k", at(0)).device,
            "old-open");
}

TEST(FleetNames, HostnamesBecomeDeviceNames) {
  EXPECT_EQ(device_name_from_hostname("DESKTOP-7QK2L"), "desktop-7qk2l");
  EXPECT_EQ(device_name_from_hostname("web-01.example.com"), "web-01.example.com");
  EXPECT_EQ(device_name_from_hostname("my host!"), "my-host-");
  EXPECT_EQ(device_name_from_hostname("-_lead"), "lead");
  EXPECT_EQ(device_name_from_hostname(std::string(100, 'a')), std::string(63, 'a'));
  for (const char* bad : {"", "12345", "...", "device", "RELAY", "\xc3\xa9\xc3\xa9"})
    EXPECT_EQ(device_name_from_hostname(bad), "") << bad;
  EXPECT_EQ(name_with_suffix("kiosk", 2), "kiosk-2");
  const std::string long_name(63, 'k');
  EXPECT_EQ(name_with_suffix(long_name, 12), std::string(60, 'k') + "-12");
  EXPECT_TRUE(valid_name(name_with_suffix(long_name, 99999)));
}

}  // namespace
}  // namespace sb::store
