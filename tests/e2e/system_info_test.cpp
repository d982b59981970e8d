// What a device reports about itself (hostname, OS, CPU, memory, disks, uptime, users,
// addresses) reaches `relay device show` and `relay session show`, in text and in --json, and
// a change while the device is connected reaches it too.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>

#include "harness.hpp"
#include "operator_support.hpp"

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

std::string quoted(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) out += "'" + arg + "' ";
  return out;
}

// The device is renamed while its tunnel is up: in a UTS namespace of its own (so that the
// machine's name is untouched), the agent starts as "sb-before"; a line on the shell's stdin
// renames the namespace "sb-after", and the next reading (--info-interval 1s) reports it.
TEST(SystemInfo, AChangeWhileConnectedReachesTheRelay) {
  if (run({"/usr/bin/unshare", "--uts", "true"}).exit_code != 0)
    GTEST_SKIP() << "cannot make a UTS namespace here (unshare --uts)";
  TempDir tmp;
  Relay relay(tmp / "relay");
  auto token = relay.admin({"enroll", "create", "--name", "renamed-box"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const auto agent_argv = agent_run_argv(
      relay.address(), tmp / "agent",
      {"--enroll-token", trim_end(token.out), "--info-interval", "1s", "--log-level", "debug"});
  Process device({"/usr/bin/unshare", "--uts", "sh", "-c",
                  "hostname sb-before && { " + quoted(agent_argv) +
                      "& } && read line && hostname sb-after && echo renamed && wait"});
  ASSERT_TRUE(logged_session_id(device)) << device.err();
  auto hostname = [&] {
    auto shown = relay.admin_json({"device", "show", "renamed-box"});
    return shown.is_object() ? shown["info"].value("hostname", "") : std::string();
  };
  EXPECT_EQ(hostname(), "sb-before");

  device.write_stdin("rename\n");
  ASSERT_TRUE(device.wait_for_output("renamed")) << device.err();
  EXPECT_TRUE(wait_until([&] { return hostname() == "sb-after"; }, 10s)) << device.err();
  EXPECT_TRUE(contains(device.err(), "system info changed; sent to the relay")) << device.err();
}

// A disk that stops answering (statvfs blocks for good, preloaded): the agent connects after
// waiting 3 s for the reading, with the info it has without reading (its version), says so once,
// and still stops at once on SIGTERM, its reading thread stuck.
TEST(SystemInfo, AHungReadingDelaysTheConnectionBrieflyAndNeverTheStop) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  std::string asan_options = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
  // A sanitized agent insists on its runtime coming first; the preloaded library is plain.
  asan_options += std::string(asan_options.empty() ? "" : ":") + "verify_asan_link_order=0";
  const auto started = std::chrono::steady_clock::now();
  Process agent(agent_help_argv(relay.address(), tmp / "agent"),
                {{"LD_PRELOAD", SB_HANG_STATVFS_LIB}, {"ASAN_OPTIONS", asan_options}});
  auto id = logged_session_id(agent);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(id) << agent.err();
  EXPECT_GE(waited, 2.9) << agent.err();
  EXPECT_LT(waited, 8.0) << agent.err();
  EXPECT_EQ(occurrences_of(agent.err(), "reading the system info takes over 3 s"), 1u)
      << agent.err();
  auto session = relay.admin_json({"session", "show", *id});
  ASSERT_TRUE(session.is_object());
  EXPECT_FALSE(session["info"].value("agent_version", "").empty()) << session.dump(2);
  EXPECT_EQ(session["info"].value("hostname", "?"), "") << session.dump(2);

  const auto stopping = std::chrono::steady_clock::now();
  agent.signal(SIGTERM);
  auto code = agent.wait(5s);
  ASSERT_TRUE(code) << "the agent did not stop while its reading hung:\n" << agent.err();
  EXPECT_EQ(*code, 0) << agent.err();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 2s);
}

// A hello whose system info fails the relay's check (sent raw: the agent cleans what it sends)
// keeps its session; the relay stores only the five basic fields and logs the member at fault.
TEST(SystemInfo, ABadSystemInfoCostsTheDeviceItsInfoNotItsSession) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  const auto key = make_operator_key(tmp.path(), "device");
  const nlohmann::json hello{{"type", "hello"},
                             {"version", 1},
                             {"kind", "adhoc"},
                             {"info",
                              {{"hostname", "probe-box"},
                               {"os", "TestOS"},
                               {"kernel", "k"},
                               {"arch", "x86_64"},
                               {"agent_version", "9.9"},
                               {"memory", {{"total_bytes", "lots"}}}}}};
  auto probe = run({ssh_probe_bin(), "127.0.0.1", std::to_string(relay.port()), key.key.string(),
                    "device", "hello", hello.dump()},
                   {.timeout = 30s});
  ASSERT_EQ(probe.exit_code, 0) << probe.err;
  ASSERT_TRUE(probe.out.starts_with("reply=")) << probe.out;
  const auto reply = nlohmann::json::parse(trim_end(probe.out.substr(6)), nullptr, false);
  ASSERT_TRUE(reply.is_object()) << probe.out;
  EXPECT_EQ(reply.value("type", ""), "session") << probe.out;
  const std::string id = reply.value("id", "");
  ASSERT_FALSE(id.empty()) << probe.out;

  EXPECT_TRUE(wait_until([&] {
    return contains(relay.process().err(), "session " + id + ": device info not stored");
  })) << relay.process().err();
  EXPECT_TRUE(contains(relay.process().err(), "memory.total_bytes")) << relay.process().err();
  auto session = relay.admin_json({"session", "show", id});
  ASSERT_TRUE(session.is_object());
  EXPECT_EQ(session["info"].value("hostname", ""), "probe-box") << session.dump(2);
  EXPECT_FALSE(session["info"].contains("memory")) << session.dump(2);
}

}  // namespace
}  // namespace sb::e2e
