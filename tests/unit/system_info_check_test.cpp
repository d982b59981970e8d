// The relay's check of the system info a device sends: each member bounded in type, length
// and count, the whole in bytes; a bad member costs the device its system info, never its
// session, and an update with one is not stored at all.
#include <gtest/gtest.h>

#include "common/system_info_limits.hpp"
#include "relay/device/device_messages.hpp"
#include "relay/device/system_info_check.hpp"

namespace sb::relay {
namespace {

using nlohmann::json;

json good_info() {
  return {{"hostname", "lap-7"},
          {"os", "Debian GNU/Linux 12 (bookworm)"},
          {"kernel", "Linux 6.1"},
          {"arch", "x86_64"},
          {"agent_version", "0.1.0"},
          {"os_version", "12"},
          {"cpu", {{"model", "AMD EPYC"}, {"cores", 2}, {"threads", 4}}},
          {"memory", {{"total_bytes", 1 << 30}, {"available_bytes", 1 << 29}}},
          {"uptime_seconds", 42},
          {"disks", {{{"mount", "/"}, {"fs", "ext4"}, {"size_bytes", 1000}, {"free_bytes", 10}}}},
          {"addresses", {{{"interface", "eth0"}, {"address", "10.0.0.5"}, {"prefix", 8}}}},
          {"users", {{{"name", "alice"}, {"terminal", "tty2"}, {"from", ""}}}}};
}

std::string error_of(json info) {
  std::string error;
  auto checked = check_system_info(info, &error);
  EXPECT_EQ(checked.has_value(), error.empty()) << error;
  return error;
}

TEST(SystemInfoCheck, KeepsKnownMembersDropsUnknownOnes) {
  json info = good_info();
  info["from_the_future"] = {{"x", 1}};
  info["cpu"]["flags"] = "sse avx";
  std::string error;
  auto checked = check_system_info(info, &error);
  ASSERT_TRUE(checked) << error;
  EXPECT_FALSE(checked->contains("from_the_future"));
  EXPECT_FALSE((*checked)["cpu"].contains("flags"));
  EXPECT_EQ((*checked)["disks"], info["disks"]);
  EXPECT_FALSE(checked->contains("hostname"));  // the five fields are parse_device_info's
}

TEST(SystemInfoCheck, AnOlderAgentsInfoHasNone) {
  json old = {
      {"hostname", "h"}, {"os", "o"}, {"kernel", "k"}, {"arch", "a"}, {"agent_version", "v"}};
  std::string error;
  auto checked = check_system_info(old, &error);
  ASSERT_TRUE(checked);
  EXPECT_TRUE(checked->empty());
  auto hello = parse_hello({{"type", "hello"}, {"kind", "adhoc"}, {"info", old}});
  ASSERT_TRUE(hello.hello);
  EXPECT_EQ(hello.hello->info, old);
  EXPECT_EQ(hello.hello->info_error, "");
}

TEST(SystemInfoCheck, RefusesBadMembersNamingThem) {
  const auto with = [](const json& patch) {
    json info = good_info();
    info.merge_patch(patch);
    return error_of(info);
  };
  EXPECT_EQ(with({{"uptime_seconds", -1}}),
            "invalid system info: uptime_seconds is not a whole number from 0 to " +
                std::to_string(sysinfo::kMaxNumber));
  EXPECT_NE(with({{"uptime_seconds", 1.5}}), "");
  EXPECT_NE(with({{"memory", {{"total_bytes", "1 GiB"}}}}), "");
  EXPECT_NE(with({{"memory", {{"total_bytes", 1ull << 60}}}}), "");
  EXPECT_EQ(with({{"cpu", "fast"}}), "invalid system info: cpu is not an object");
  EXPECT_NE(with({{"cpu", {{"threads", 1 << 20}}}}), "");
  EXPECT_NE(with({{"os_version", std::string(sysinfo::kMaxText + 1, 'v')}}), "");
  EXPECT_NE(with({{"os_version", 12}}), "");
  EXPECT_EQ(with({{"disks", "/"}}), "invalid system info: disks is not a list");

  json info = good_info();
  info["disks"][0]["mount"] = "/\x1b[2J";
  EXPECT_EQ(error_of(info),
            "invalid system info: disks[0].mount is longer than 200 bytes or has control "
            "characters");
  info = good_info();
  info["addresses"][0]["prefix"] = 129;
  EXPECT_NE(error_of(info), "");
  info = good_info();
  info["users"].push_back(7);
  EXPECT_EQ(error_of(info), "invalid system info: users[1] is not an object");
}

TEST(SystemInfoCheck, BoundsListsAndTotalSize) {
  json info = good_info();
  info["users"] = json::array();
  for (std::size_t i = 0; i <= sysinfo::kMaxUsers; ++i) info["users"].push_back({{"name", "u"}});
  EXPECT_EQ(error_of(info), "invalid system info: users has 25 entries (at most 24)");
  // Within every per-member bound, too large as a whole.
  info = good_info();
  info["padding"] = std::string(sysinfo::kMaxTotalBytes, 'x');
  EXPECT_NE(error_of(info).find("bytes (at most 8192)"), std::string::npos);
}

TEST(SystemInfoCheck, HelloKeepsItsSessionUpdateIsRefusedWhole) {
  json info = good_info();
  info["disks"][0]["size_bytes"] = "big";
  auto hello = parse_hello({{"type", "hello"}, {"kind", "adhoc"}, {"info", info}});
  ASSERT_TRUE(hello.hello) << hello.error;
  EXPECT_EQ(hello.hello->info_error,
            "invalid system info: disks[0].size_bytes is not a whole number from 0 to " +
                std::to_string(sysinfo::kMaxNumber));
  EXPECT_EQ(hello.hello->info["hostname"], "lap-7");  // the five fields are kept
  EXPECT_FALSE(hello.hello->info.contains("disks"));

  auto update = parse_info_update({{"type", "info"}, {"info", info}});
  EXPECT_FALSE(update.info);
  EXPECT_NE(update.error, "");
  EXPECT_FALSE(parse_info_update({{"type", "info"}, {"info", {{"os", "\x07"}}}}).info);
  auto good = parse_info_update({{"type", "info"}, {"info", good_info()}});
  ASSERT_TRUE(good.info) << good.error;
  EXPECT_EQ(*good.info, good_info());
}

}  // namespace
}  // namespace sb::relay
