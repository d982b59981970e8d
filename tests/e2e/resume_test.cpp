// An attended-help session keeps its ID through a network blip (`relay serve --grace`): the
// agent's TCP connection cut under it (`ss -K`) or the agent frozen past the keepalive, it comes
// back with the same ID, and operators find the same session and its recent screen. A grace
// that runs out ends the session as a drop always did (the agent is told plainly and gets a new
// ID); --grace 0 is the old behaviour; a deliberate exit still ends the session at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <regex>
#include <sstream>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

using Clock = std::chrono::steady_clock;

// What the agent prints when it got its session back.
constexpr const char* kStillRegex = R"(Your session ID is still (\d{3} \d{3} \d{3}))";

// iproute2's ss (scripts/install-deps.sh installs it), or "" where it is missing.
std::string ss_bin() {
  for (const char* path : {"/usr/bin/ss", "/bin/ss", "/usr/sbin/ss", "/sbin/ss"})
    if (::access(path, X_OK) == 0) return path;
  return "";
}

// The local port of `pid`'s established TCP connection to `port` on loopback (from ss), or 0.
int local_port_of(pid_t pid, int port) {
  if (ss_bin().empty()) return 0;
  RunResult r = run({ss_bin(), "-tnpH", "state", "established"});
  std::istringstream lines(r.out);
  const std::regex row(R"(127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:(\d+).*pid=(\d+),)");
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row) && std::stoi(m[2]) == port && std::stoi(m[3]) == pid)
      return std::stoi(m[1]);
  }
  return 0;
}

// Destroys the agent's socket to the relay as a network fault would (the relay sees a reset).
// False where ss cannot kill sockets (no SOCK_DESTROY in the kernel, or not root).
bool cut_connection(pid_t pid, int relay_port) {
  int local = local_port_of(pid, relay_port);
  if (local == 0) return false;
  RunResult r = run({ss_bin(), "-K", "-tn", "state", "established",
                     "( sport = :" + std::to_string(local) +
                         " and dport = :" + std::to_string(relay_port) + " )"});
  if (r.exit_code != 0) return false;
  return wait_until([&] { return local_port_of(pid, relay_port) != local; }, 2s);
}

// The kinds of the audit events of a session, oldest first.
std::vector<std::string> event_kinds(Relay& relay, const std::string& id) {
  std::vector<std::string> kinds;
  auto rows = relay.admin_json({"audit", "--session", id, "--reverse", "--limit", "1000"});
  if (rows.is_array())
    for (const auto& row : rows) kinds.push_back(row.value("kind", ""));
  return kinds;
}

bool has_kind(const std::vector<std::string>& kinds, const std::string& kind) {
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

// Only this session is live, and its tunnel key is there.
bool only_live_session(Relay& relay, const std::string& id) {
  auto active = relay.sessions(true);
  return active.is_array() && active.size() == 1 && active[0]["id"] == id &&
         !find_by(relay.tunnel_keys(), "session_id", id).is_null();
}

// Ended, with its tunnel key purged.
bool purged(Relay& relay, const std::string& id) {
  auto keys = relay.tunnel_keys();
  if (!keys.is_array() || !find_by(keys, "session_id", id).is_null()) return false;
  auto session = find_by(relay.sessions(), "id", id);
  return !session.is_null() && !session["ended"].is_null();
}

class Resume : public SharedTerminalTest {};

TEST_F(Resume, CutConnectionComesBackWithTheSameIdAndOperatorsSeeTheRecentScreen) {
  start_device({"alice"}, {"--grace", "10s"});
  open_terminal("alice");
  type("alice", "echo BEFORE-$((6*7))-blip");
  ASSERT_TRUE(term("alice").wait_for_output("BEFORE-42-blip", kSee)) << term("alice").out();

  auto t0 = Clock::now();
  if (!cut_connection(agent().pid(), relay().port()))
    GTEST_SKIP() << "ss -K cannot destroy sockets here (needs root and SOCK_DESTROY); the "
                    "frozen-agent test covers the resume";
  auto still = agent().wait_for_match(kStillRegex, 10s);
  const double back = seconds_since(t0);
  ASSERT_TRUE(still) << agent().out() << agent().err() << relay().process().err();
  EXPECT_EQ(digits_only(*still), id_);
  std::cout << "[ measured ] same session ID back " << back * 1000 << " ms after ss -K\n";
  EXPECT_LE(back, 3.0) << "the agent took " << back << " s to get its ID back";
  // The agent says its connection was cut; the relay closed nothing.
  EXPECT_TRUE(contains(agent().err(), "tunnel down (the connection to the relay was lost"))
      << agent().err();
  EXPECT_FALSE(contains(agent().err(), "the relay closed the control channel")) << agent().err();

  // The operator was let go with a clear word, and comes back to the same ID.
  EXPECT_TRUE(term("alice").wait_for_output("try the same session ID again", kSee, true))
      << "stderr: " << term("alice").err() << "\nstdout: " << term("alice").out();
  EXPECT_TRUE(wait_until([&] { return only_live_session(relay(), id_); }))
      << relay().sessions().dump(2);
  open_terminal("alice");
  EXPECT_TRUE(term("alice").wait_for_output("BEFORE-42-blip", kSee))
      << "the recent screen was not replayed:\n"
      << term("alice").out();
  EXPECT_TRUE(term("alice").wait_for_output("the device reconnected", kSee)) << term("alice").out();
  type("alice", "echo AFTER-$((6*7))-blip");
  EXPECT_TRUE(term("alice").wait_for_output("AFTER-42-blip", kSee)) << term("alice").out();

  auto kinds = event_kinds(relay(), id_);
  EXPECT_TRUE(has_kind(kinds, "device.interrupted")) << testing::PrintToString(kinds);
  EXPECT_TRUE(has_kind(kinds, "device.resumed")) << testing::PrintToString(kinds);
  EXPECT_FALSE(has_kind(kinds, "device.disconnected")) << testing::PrintToString(kinds);
  EXPECT_EQ(agent().matches(kBannerRegex).size(), 1u) << "a second banner:\n" << agent().out();
}

TEST_F(Resume, FrozenAgentResumesAndAnAttachDuringTheHoldWaitsForIt) {
  start_device({"alice"}, {"--grace", "10s"});
  const std::string line = "session " + id_ + " interrupted: keepalive timeout";

  agent().signal(SIGSTOP);
  bool held = relay().process().wait_for_output(line, 10s, true);
  if (!held) agent().signal(SIGCONT);
  ASSERT_TRUE(held) << relay().process().err();
  // Held: the session is still open in the store and its key still there, and the admin sees
  // that its device is away.
  EXPECT_TRUE(only_live_session(relay(), id_)) << relay().sessions().dump(2);
  EXPECT_TRUE(wait_until([&] {
    return !find_by(relay().sessions(true), "id", id_)["held_since"].is_null();
  })) << relay().sessions(true).dump(2);
  auto listed = relay().admin({"session", "list", "--active"});
  EXPECT_TRUE(contains(listed.out, "held (device away since ")) << listed.out;
  auto shown = relay().admin({"session", "show", id_});
  EXPECT_TRUE(contains(shown.out, "(held (device away since ")) << shown.out;

  // An operator who attaches now waits for the device instead of being refused.
  Process exec(ssh("alice", id_, {}, {"echo", "HELD-ATTACH-OK"}));
  ASSERT_TRUE(
      relay().process().wait_for_output("operator alice fp=" + op("alice").fingerprint, 10s, true))
      << exec.err() << relay().process().err();
  EXPECT_TRUE(contains(relay().process().err(), "its device is reconnecting"))
      << relay().process().err();
  auto t0 = Clock::now();
  agent().signal(SIGCONT);
  auto still = agent().wait_for_match(kStillRegex, 10s);
  ASSERT_TRUE(still) << agent().out() << agent().err() << relay().process().err();
  EXPECT_EQ(digits_only(*still), id_);
  std::cout << "[ measured ] same session ID back " << seconds_since(t0) * 1000
            << " ms after SIGCONT\n";

  auto code = exec.wait(15s);
  ASSERT_TRUE(code) << "the held attach never finished: " << exec.err();
  EXPECT_EQ(*code, 0) << exec.err();
  EXPECT_TRUE(contains(exec.out(), "HELD-ATTACH-OK")) << exec.out() << exec.err();
  EXPECT_TRUE(only_live_session(relay(), id_)) << relay().sessions().dump(2);
  EXPECT_TRUE(wait_until([&] {
    return find_by(relay().sessions(true), "id", id_)["held_since"].is_null();
  })) << "still shown as held after the resume: "
      << relay().sessions(true).dump(2);
}

TEST_F(Resume, GraceRunsOutTheSessionIsPurgedAndTheAgentIsToldItHasANewId) {
  start_device({}, {"--grace", "2s"});
  agent().signal(SIGSTOP);
  // Dropped by the keepalive (within 2 s), held 2 s, ended by the next sweep (1 s).
  auto t0 = Clock::now();
  bool gone = wait_until([&] { return purged(relay(), id_); }, 10s);
  const double elapsed = seconds_since(t0);
  agent().signal(SIGCONT);
  ASSERT_TRUE(gone) << relay().sessions().dump(2) << relay().process().err();
  EXPECT_GE(elapsed, 2.0) << "purged before the grace ran out";
  auto session = find_by(relay().sessions(), "id", id_);
  EXPECT_TRUE(contains(session.value("end_reason", ""), "not resumed within 2s"))
      << session.dump(2);

  // Thawed, the agent asks for its ID, is refused, and says so before the new banner.
  auto id2 = banner_session_id(agent(), 2, 15s);
  ASSERT_TRUE(id2) << agent().out() << agent().err();
  EXPECT_NE(*id2, id_);
  EXPECT_TRUE(contains(agent().out(), "could not be kept")) << agent().out();
  EXPECT_TRUE(contains(agent().out(), "You have a NEW session ID")) << agent().out();
  auto kinds = event_kinds(relay(), id_);
  EXPECT_TRUE(has_kind(kinds, "device.interrupted")) << testing::PrintToString(kinds);
  EXPECT_TRUE(has_kind(kinds, "device.disconnected")) << testing::PrintToString(kinds);
  EXPECT_TRUE(wait_until([&] {
    return has_kind(event_kinds(relay(), id_), "device.resume_refused");
  })) << testing::PrintToString(event_kinds(relay(), id_));
  EXPECT_TRUE(wait_until([&] { return only_live_session(relay(), *id2); }))
      << relay().sessions().dump(2);
}

TEST_F(Resume, GraceZeroEndsTheSessionAtOnceAndTheAgentGetsANewId) {
  start_device({}, {"--grace", "0"});
  if (!cut_connection(agent().pid(), relay().port()))
    GTEST_SKIP() << "ss -K cannot destroy sockets here";
  EXPECT_TRUE(wait_until([&] { return purged(relay(), id_); }, 5s)) << relay().sessions().dump(2);
  auto id2 = banner_session_id(agent(), 2, 10s);
  ASSERT_TRUE(id2) << agent().out() << agent().err();
  EXPECT_NE(*id2, id_);
  EXPECT_FALSE(has_kind(event_kinds(relay(), id_), "device.interrupted"));
}

TEST_F(Resume, DeliberateExitEndsTheSessionAtOnce) {
  start_device({}, {"--grace", "30s"});
  auto t0 = Clock::now();
  agent().signal(SIGTERM);
  auto code = agent().wait(5s);
  ASSERT_TRUE(code) << "the agent did not stop";
  EXPECT_EQ(*code, 0);
  ASSERT_TRUE(wait_until([&] { return purged(relay(), id_); }, 10s)) << relay().sessions().dump(2);
  // Each check of purged() runs two admin CLI processes, which take a loaded machine most of a
  // second each when sanitized; a held session would stay for the whole 30 s grace.
  EXPECT_LE(seconds_since(t0), sanitized_binaries() ? 8.0 : 2.0);
  auto session = find_by(relay().sessions(), "id", id_);
  EXPECT_EQ(session.value("end_reason", ""), "the agent ended the session") << session.dump(2);
  EXPECT_FALSE(has_kind(event_kinds(relay(), id_), "device.interrupted"));
}

TEST_F(Resume, AdminKillOfAHeldSessionEndsIt) {
  start_device({}, {"--grace", "30s"});
  agent().signal(SIGSTOP);
  bool held = relay().process().wait_for_output("session " + id_ + " interrupted", 10s, true);
  if (!held) agent().signal(SIGCONT);
  ASSERT_TRUE(held) << relay().process().err();
  RunResult kill = relay().admin({"session", "kill", id_});
  agent().signal(SIGCONT);
  EXPECT_EQ(kill.exit_code, 0) << kill.out << kill.err;
  EXPECT_TRUE(wait_until([&] { return purged(relay(), id_); }, 5s)) << relay().sessions().dump(2);
  // The agent comes back to a relay that no longer holds it: a new ID.
  auto id2 = banner_session_id(agent(), 2, 10s);
  ASSERT_TRUE(id2) << agent().out() << agent().err();
  EXPECT_NE(*id2, id_);
}

}  // namespace
}  // namespace sb::e2e
