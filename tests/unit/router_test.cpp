// Router: live session IDs and the device -> session binding shared by all reactors.
#include "relay/router/router.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sb::relay {
namespace {

// The router only stores and hands out device handles, never calls into them: a handle that
// shares ownership of a plain int (and points at it) stands in for a device tunnel.
std::shared_ptr<DeviceTunnel> fake_device() {
  auto owner = std::make_shared<int>(0);
  return std::shared_ptr<DeviceTunnel>(owner, reinterpret_cast<DeviceTunnel*>(owner.get()));
}

bool is_session_id(const std::string& id) {
  if (id.size() != 9 || id[0] < '1' || id[0] > '9') return false;
  for (char c : id)
    if (c < '0' || c > '9') return false;
  return true;
}

class RouterTest : public ::testing::Test {
 protected:
  std::shared_ptr<DeviceTunnel> conn() { return fake_device(); }
  Router reg_;
};

TEST_F(RouterTest, IssuesNineDigitIds) {
  auto id = reg_.issue(std::weak_ptr<DeviceTunnel>());
  EXPECT_TRUE(is_session_id(id)) << id;
  EXPECT_EQ(reg_.live(), 1u);
}

TEST_F(RouterTest, IssuesThousandUniqueIds) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    auto id = reg_.issue(std::weak_ptr<DeviceTunnel>());
    EXPECT_TRUE(is_session_id(id)) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(reg_.live(), 1000u);
}

TEST_F(RouterTest, ReleaseFreesTheId) {
  auto a = reg_.issue(std::weak_ptr<DeviceTunnel>());
  auto b = reg_.issue(std::weak_ptr<DeviceTunnel>());
  EXPECT_EQ(reg_.live(), 2u);
  reg_.release(a, "");
  EXPECT_EQ(reg_.live(), 1u);
  reg_.release(a, "");  // twice: harmless
  reg_.release("123456789", "nobody");
  reg_.release("", "");
  EXPECT_EQ(reg_.live(), 1u);
  reg_.release(b, "");
  EXPECT_EQ(reg_.live(), 0u);
}

TEST_F(RouterTest, FindReturnsTheLiveConnection) {
  auto c = conn();
  auto id = reg_.issue(c);
  EXPECT_EQ(reg_.find(id), c);
  EXPECT_EQ(reg_.find(id), c) << "find does not consume";
}

TEST_F(RouterTest, FindReturnsNullForUnknownIds) {
  auto c = conn();
  auto id = reg_.issue(c);
  EXPECT_EQ(reg_.find(""), nullptr);
  EXPECT_EQ(reg_.find("000000000"), nullptr);
  EXPECT_EQ(reg_.find("not an id"), nullptr);
  std::string other = id;
  other[8] = other[8] == '0' ? '1' : '0';
  EXPECT_EQ(reg_.find(other), nullptr);
  EXPECT_EQ(reg_.find(id.substr(0, 8)), nullptr);
}

TEST_F(RouterTest, FindReturnsNullForExpiredConnections) {
  auto empty_id = reg_.issue(std::weak_ptr<DeviceTunnel>());
  EXPECT_EQ(reg_.find(empty_id), nullptr);

  auto c = conn();
  auto id = reg_.issue(c);
  c.reset();  // the connection is gone but has not released its ID yet
  EXPECT_EQ(reg_.find(id), nullptr);
}

TEST_F(RouterTest, FindReturnsNullAfterRelease) {
  auto c = conn();
  auto id = reg_.issue(c);
  reg_.release(id, "");
  EXPECT_EQ(reg_.find(id), nullptr);
}

TEST_F(RouterTest, FirstBindReturnsNothing) {
  auto c = conn();
  auto id = reg_.issue(c);
  EXPECT_EQ(reg_.bind_device("pi-01", id), nullptr);
  EXPECT_EQ(reg_.session_of_device("pi-01"), id);
}

TEST_F(RouterTest, RebindingTheSameSessionReturnsNothing) {
  auto c = conn();
  auto id = reg_.issue(c);
  reg_.bind_device("pi-01", id);
  EXPECT_EQ(reg_.bind_device("pi-01", id), nullptr) << "a session does not replace itself";
  EXPECT_EQ(reg_.session_of_device("pi-01"), id);
}

TEST_F(RouterTest, BindingANewSessionReturnsThePreviousLiveConnection) {
  auto old_conn = conn();
  auto old_id = reg_.issue(old_conn);
  reg_.bind_device("pi-01", old_id);

  auto new_conn = conn();
  auto new_id = reg_.issue(new_conn);
  EXPECT_EQ(reg_.bind_device("pi-01", new_id), old_conn);
  EXPECT_EQ(reg_.session_of_device("pi-01"), new_id);
  // The old session keeps its ID until it releases it.
  EXPECT_EQ(reg_.find(old_id), old_conn);
  EXPECT_EQ(reg_.live(), 2u);
}

TEST_F(RouterTest, BindingReturnsNothingWhenThePreviousConnectionIsGone) {
  auto old_conn = conn();
  auto old_id = reg_.issue(old_conn);
  reg_.bind_device("pi-01", old_id);
  old_conn.reset();

  auto new_conn = conn();
  auto new_id = reg_.issue(new_conn);
  EXPECT_EQ(reg_.bind_device("pi-01", new_id), nullptr);
  EXPECT_EQ(reg_.session_of_device("pi-01"), new_id);
}

TEST_F(RouterTest, BindingReturnsNothingWhenThePreviousSessionWasReleased) {
  auto old_conn = conn();
  auto old_id = reg_.issue(old_conn);
  reg_.bind_device("pi-01", old_id);
  reg_.release(old_id, "pi-01");
  EXPECT_EQ(reg_.session_of_device("pi-01"), std::nullopt);

  auto new_id = reg_.issue(conn());
  EXPECT_EQ(reg_.bind_device("pi-01", new_id), nullptr);
}

TEST_F(RouterTest, DevicesAreIndependent) {
  auto a = conn();
  auto b = conn();
  auto id_a = reg_.issue(a);
  auto id_b = reg_.issue(b);
  EXPECT_EQ(reg_.bind_device("alpha", id_a), nullptr);
  EXPECT_EQ(reg_.bind_device("beta", id_b), nullptr);
  EXPECT_EQ(reg_.session_of_device("alpha"), id_a);
  EXPECT_EQ(reg_.session_of_device("beta"), id_b);
  EXPECT_EQ(reg_.session_of_device("gamma"), std::nullopt);
  EXPECT_EQ(reg_.session_of_device(""), std::nullopt);
}

TEST_F(RouterTest, ReleasingTheReplacedSessionKeepsTheNewBinding) {
  auto old_conn = conn();
  auto old_id = reg_.issue(old_conn);
  reg_.bind_device("pi-01", old_id);
  auto new_conn = conn();
  auto new_id = reg_.issue(new_conn);
  reg_.bind_device("pi-01", new_id);

  // The replaced connection closes after the new one took over.
  reg_.release(old_id, "pi-01");
  EXPECT_EQ(reg_.session_of_device("pi-01"), new_id);
  EXPECT_EQ(reg_.find(new_id), new_conn);
  EXPECT_EQ(reg_.find(old_id), nullptr);
  EXPECT_EQ(reg_.live(), 1u);

  reg_.release(new_id, "pi-01");
  EXPECT_EQ(reg_.session_of_device("pi-01"), std::nullopt);
  EXPECT_EQ(reg_.live(), 0u);
}

TEST_F(RouterTest, ReleaseWithoutDeviceKeepsOtherBindings) {
  auto a = conn();
  auto id_a = reg_.issue(a);
  reg_.bind_device("alpha", id_a);
  auto id_b = reg_.issue(conn());
  reg_.release(id_b, "");
  reg_.release(id_b, "alpha");  // not alpha's session: alpha's binding stays
  EXPECT_EQ(reg_.session_of_device("alpha"), id_a);
}

TEST_F(RouterTest, LiveCountsIssuedMinusReleased) {
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(reg_.issue(std::weak_ptr<DeviceTunnel>()));
  EXPECT_EQ(reg_.live(), 50u);
  for (int i = 0; i < 50; i += 2) reg_.release(ids[i], "");
  EXPECT_EQ(reg_.live(), 25u);
  // live() counts IDs, whether or not their connection still exists.
  auto c = conn();
  reg_.issue(c);
  c.reset();
  EXPECT_EQ(reg_.live(), 26u);
}

TEST_F(RouterTest, ReleasedIdsLeaveRoomForNewOnes) {
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> ids;
    for (int i = 0; i < 100; ++i) ids.push_back(reg_.issue(std::weak_ptr<DeviceTunnel>()));
    for (const auto& id : ids) reg_.release(id, "");
  }
  EXPECT_EQ(reg_.live(), 0u);
}

TEST_F(RouterTest, ConcurrentIssueYieldsNoDuplicates) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2500;
  std::vector<std::vector<std::string>> issued(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i)
        issued[t].push_back(reg_.issue(std::weak_ptr<DeviceTunnel>()));
    });
  for (auto& th : threads) th.join();

  std::set<std::string> all;
  for (const auto& ids : issued)
    for (const auto& id : ids) {
      EXPECT_TRUE(is_session_id(id)) << id;
      all.insert(id);
    }
  EXPECT_EQ(all.size(), std::size_t{kThreads * kPerThread});
  EXPECT_EQ(reg_.live(), std::size_t{kThreads * kPerThread});
}

TEST_F(RouterTest, ConcurrentIssueBindAndReleaseStayConsistent) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 500;
  std::vector<std::shared_ptr<DeviceTunnel>> conns;
  for (int t = 0; t < kThreads; ++t) conns.push_back(conn());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      const std::string device = "dev-" + std::to_string(t);
      for (int i = 0; i < kRounds; ++i) {
        auto id = reg_.issue(conns[t]);
        reg_.bind_device(device, id);
        EXPECT_EQ(reg_.find(id), conns[t]);
        EXPECT_EQ(reg_.session_of_device(device), id);
        reg_.release(id, device);
        EXPECT_EQ(reg_.session_of_device(device), std::nullopt);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(reg_.live(), 0u);
}

}  // namespace
}  // namespace sb::relay
