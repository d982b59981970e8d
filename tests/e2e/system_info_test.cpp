// What a device reports about itself (hostname, OS, CPU, memory, disks, uptime, users,
// addresses) reaches `relay device show` and `relay session show`, in text and in --json.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace sb::e2e {
namespace {

void expect_system_info(const nlohmann::json& info) {
  EXPECT_FALSE(info.value("hostname", "").empty()) << info.dump(2);
  EXPECT_FALSE(info.value("kernel", "").empty());
  EXPECT_GT(info["cpu"].value("threads", 0), 0) << info.dump(2);
  EXPECT_GT(info["memory"].value("total_bytes", std::uint64_t{0}), 0u);
  EXPECT_GT(info.value("uptime_seconds", std::uint64_t{0}), 0u);
  ASSERT_TRUE(info["disks"].is_array()) << info.dump(2);
  // Every machine this runs on has a root file system (a container's is an overlay).
  auto root = find_by(info["disks"], "mount", "/");
  ASSERT_FALSE(root.is_null()) << info.dump(2);
  EXPECT_GT(root.value("size_bytes", std::uint64_t{0}), 0u);
  EXPECT_TRUE(info["addresses"].is_array());
  EXPECT_TRUE(info["users"].is_array());
  EXPECT_FALSE(info.value("reported_at", "").empty());
  EXPECT_LT(info.dump().size(), 8192u);
}

TEST(SystemInfo, EnrolledDeviceShowHasIt) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  auto token = relay.admin({"enroll", "create", "--name", "kiosk-3"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  Process agent(
      agent_run_argv(relay.address(), tmp / "agent", {"--enroll-token", trim_end(token.out)}));
  ASSERT_TRUE(logged_session_id(agent)) << agent.err();
  nlohmann::json device;
  ASSERT_TRUE(wait_until([&] {
    device = relay.admin_json({"device", "show", "kiosk-3"});
    return device.is_object() && device["info"].contains("disks");
  })) << device.dump(2);
  expect_system_info(device["info"]);

  auto shown = relay.admin({"device", "show", "kiosk-3"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  for (const char* part : {"System (reported ", "cpu:", "memory:", "booted:", "disks:", "MOUNT"})
    EXPECT_TRUE(contains(shown.out, part)) << part << " missing from:\n" << shown.out;
}

TEST(SystemInfo, AdHocSessionShowHasIt) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  Process agent(agent_help_argv(relay.address(), tmp / "agent"));
  auto id = logged_session_id(agent);
  ASSERT_TRUE(id) << agent.err();
  auto session = relay.admin_json({"session", "show", *id});
  ASSERT_TRUE(session.is_object());
  expect_system_info(session["info"]);
  auto shown = relay.admin({"session", "show", *id});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  for (const char* part : {"System (reported ", "host:", "os:", "cpu:", "memory:", "disks:"})
    EXPECT_TRUE(contains(shown.out, part)) << part << " missing from:\n" << shown.out;
}

}  // namespace
}  // namespace sb::e2e
