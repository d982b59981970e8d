// Dead tunnels: a killed agent is noticed at once, a frozen one by the janitor's keepalive
// within 2 x the check interval; connections that never authenticate are dropped after the
// handshake timeout; garbage on the wire disturbs nobody else.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <vector>

#include "common/util.hpp"
#include "harness.hpp"

namespace sb::e2e {
namespace {

using Clock = std::chrono::steady_clock;

// --check-interval 1s, plus extra flags for `relay serve`.
Relay::Options options(std::vector<std::string> extra = {}) {
  Relay::Options o;
  o.check_interval = "1s";
  o.extra_args = std::move(extra);
  return o;
}

// Both the tunnel key and the live session of this ID are gone.
bool purged(Relay& relay, const std::string& id) {
  auto keys = relay.tunnel_keys();
  if (!keys.is_array() || !find_by(keys, "session_id", id).is_null()) return false;
  auto session = find_by(relay.sessions(), "id", id);
  return !session.is_null() && !session["ended"].is_null() && session["active"] == false;
}

// Starts an ad-hoc agent and waits until the relay lists its session and tunnel key.
std::string connect_adhoc(Relay& relay, Process& agent) {
  auto id = banner_session_id(agent);
  EXPECT_TRUE(id) << agent.err();
  if (!id) return "";
  EXPECT_TRUE(wait_until([&] {
    return !find_by(relay.tunnel_keys(), "session_id", *id).is_null() &&
           !find_by(relay.sessions(true), "id", *id).is_null();
  })) << relay.tunnel_keys().dump(2);
  return *id;
}

// A raw TCP connection to the relay.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  // Sends what it can (the relay may close on us half-way: that is fine).
  void send_bytes(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;
      done += static_cast<std::size_t>(n);
    }
  }
  // Reads (and discards) until EOF or a reset; false if the connection is still open at the
  // timeout.
  bool wait_closed(Millis timeout) {
    auto deadline = Clock::now() + timeout;
    std::array<char, 4096> buf;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
      int rc = ::poll(&p, 1, static_cast<int>(std::max<long>(1, left)));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) continue;
      ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n == 0) return true;
      if (n < 0 && errno != EINTR && errno != EAGAIN) return true;  // ECONNRESET
      if (n > 0) received_.append(buf.data(), static_cast<std::size_t>(n));
    }
    return false;
  }
  const std::string& received() const { return received_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string received_;
};

std::string random_string(std::size_t n) {
  std::vector<std::uint8_t> bytes(n);
  random_bytes(bytes);
  return std::string(bytes.begin(), bytes.end());
}

// Without a grace (--grace 0): an ad-hoc session held for a resume is tested in resume_test.cpp.
TEST(Janitor, KilledAgentIsPurgedWithinTwoCheckIntervals) {
  TempDir tmp;
  Relay relay(tmp / "relay", options({"--grace", "0"}));
  Process agent(agent_help_argv(relay.address(), tmp / "agent"));
  std::string id = connect_adhoc(relay, agent);
  ASSERT_FALSE(id.empty());

  auto t0 = Clock::now();
  agent.signal(SIGKILL);
  ASSERT_TRUE(wait_until([&] { return purged(relay, id); }, 10s))
      << "keys: " << relay.tunnel_keys().dump(2)
      << "\nsession: " << find_by(relay.sessions(), "id", id).dump(2);
  double elapsed = seconds_since(t0);
  // 2 x check interval (2 s) + 1.5 s of slack for scheduling and the admin CLI's polling.
  EXPECT_LE(elapsed, 3.5) << "tunnel key purged " << elapsed << " s after kill -9";
  auto session = find_by(relay.sessions(), "id", id);
  EXPECT_FALSE(session.value("end_reason", "").empty()) << session.dump(2);
  EXPECT_EQ(relay.sessions(true).size(), 0u);
  EXPECT_EQ(relay.tunnel_keys().size(), 0u);
  EXPECT_TRUE(relay.process().running());
}

TEST(Janitor, KilledEnrolledAgentGoesOfflineAndItsKeyIsPurged) {
  TempDir tmp;
  Relay relay(tmp / "relay", options());
  auto created = relay.admin_json({"enroll", "create", "--name", "pos-3"});
  ASSERT_TRUE(created.is_object());
  Process agent(agent_run_argv(relay.address(), tmp / "agent",
                               {"--enroll-token", created["token"].get<std::string>()}));
  auto id = logged_session_id(agent);
  ASSERT_TRUE(id) << agent.err();
  ASSERT_TRUE(wait_until([&] {
    auto d = find_by(relay.devices(), "name", "pos-3");
    return !d.is_null() && d["status"] == "online" &&
           !find_by(relay.tunnel_keys(), "session_id", *id).is_null();
  }));

  auto t0 = Clock::now();
  agent.signal(SIGKILL);
  ASSERT_TRUE(wait_until(
      [&] {
        auto d = find_by(relay.devices(), "name", "pos-3");
        return purged(relay, *id) && !d.is_null() && d["status"] == "offline";
      },
      10s))
      << relay.devices().dump(2) << relay.tunnel_keys().dump(2);
  double elapsed = seconds_since(t0);
  EXPECT_LE(elapsed, 3.5) << "device went offline " << elapsed << " s after kill -9";
  // The enrollment itself survives: the device is offline, not forgotten or revoked.
  EXPECT_EQ(relay.devices().size(), 1u);
}

TEST(Janitor, FrozenAgentIsDroppedByKeepaliveAndReconnectsWhenThawed) {
  TempDir tmp;
  Relay relay(tmp / "relay", options({"--grace", "0"}));
  Process agent(agent_help_argv(relay.address(), tmp / "agent"));
  std::string id = connect_adhoc(relay, agent);
  ASSERT_FALSE(id.empty());

  // SIGSTOP: the socket stays open, so only the missed keepalives can tell.
  auto t0 = Clock::now();
  agent.signal(SIGSTOP);
  bool dropped = wait_until([&] { return purged(relay, id); }, 10s);
  double elapsed = seconds_since(t0);
  agent.signal(SIGCONT);  // whatever happened, do not leave it frozen
  ASSERT_TRUE(dropped) << "keys: " << relay.tunnel_keys().dump(2)
                       << "\nsession: " << find_by(relay.sessions(), "id", id).dump(2);
  // 2 x check interval (2 s) + 1 s for the admin CLI's polling; the policy's exact bound is
  // unit-tested (JanitorPolicy.FreezeAtAnyPhaseIsDeadWithinTwoIntervals).
  EXPECT_LE(elapsed, 3.0) << "frozen tunnel dropped " << elapsed << " s after SIGSTOP";
  EXPECT_GE(elapsed, 0.5) << "dropped suspiciously fast: was it really the keepalive?";
  auto session = find_by(relay.sessions(), "id", id);
  EXPECT_EQ(session["end_reason"], "keepalive timeout") << session.dump(2);

  // Thawed, the agent finds its tunnel closed and comes back with a new session.
  auto id2 = banner_session_id(agent, 2, 20s);
  ASSERT_TRUE(id2) << agent.out() << agent.err();
  EXPECT_NE(*id2, id);
  nlohmann::json active;
  EXPECT_TRUE(wait_until([&] {
    active = relay.sessions(true);
    return active.is_array() && active.size() == 1 && active[0]["id"] == *id2;
  })) << active.dump(2);
  EXPECT_FALSE(find_by(relay.tunnel_keys(), "session_id", *id2).is_null());
}

// A healthy idle tunnel answers the janitor's pings and stays up across many check intervals.
TEST(Janitor, IdleHealthyTunnelSurvivesChecks) {
  TempDir tmp;
  Relay relay(tmp / "relay", options());
  Process agent(agent_help_argv(relay.address(), tmp / "agent"));
  std::string id = connect_adhoc(relay, agent);
  ASSERT_FALSE(id.empty());
  // Watch it for 4 intervals (polling, not sleeping: any drop fails at once).
  auto t0 = Clock::now();
  bool dropped = wait_until(
      [&] { return find_by(relay.sessions(true), "id", id).is_null() || !agent.running(); }, 4s);
  EXPECT_FALSE(dropped) << "the tunnel dropped after " << seconds_since(t0)
                        << " s: " << find_by(relay.sessions(), "id", id).dump(2) << "\n"
                        << agent.err();
  EXPECT_EQ(agent.matches(kBannerRegex).size(), 1u) << "the agent reconnected: " << agent.out();
}

TEST(Janitor, SilentConnectionIsDroppedAfterHandshakeTimeout) {
  TempDir tmp;
  Relay relay(tmp / "relay", options({"--handshake-timeout", "1s"}));
  RawClient silent(relay.port());
  ASSERT_TRUE(silent.connected());
  auto t0 = Clock::now();
  ASSERT_TRUE(silent.wait_closed(10s)) << "the relay kept a silent connection open";
  double elapsed = seconds_since(t0);
  EXPECT_LE(elapsed, 3.0) << "dropped only after " << elapsed << " s";
  EXPECT_GE(elapsed, 0.8) << "dropped before the handshake timeout: " << elapsed << " s";
  // The relay spoke first (its SSH banner) and is still serving.
  EXPECT_TRUE(silent.received().starts_with("SSH-2.0-")) << silent.received();
  EXPECT_TRUE(relay.process().running());
  EXPECT_EQ(relay.sessions().size(), 0u);
}

TEST(Janitor, GarbageClientsDoNotDisturbAConnectedAgent) {
  TempDir tmp;
  Relay relay(tmp / "relay", options({"--handshake-timeout", "2s"}));
  Process agent(agent_help_argv(relay.address(), tmp / "agent"));
  std::string id = connect_adhoc(relay, agent);
  ASSERT_FALSE(id.empty());

  // Pure noise, noise after a valid client banner, an absurd packet length, and a flood.
  std::vector<std::string> payloads = {
      random_string(512),
      "SSH-2.0-evil\r\n" + random_string(4096),
      std::string("SSH-2.0-evil\r\n") + std::string("\x7f\xff\xff\xff", 4) + random_string(64),
      random_string(256 * 1024),
      std::string(100000, 'A') + "\r\n",
  };
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    RawClient garbage(relay.port());
    ASSERT_TRUE(garbage.connected());
    garbage.send_bytes(payloads[i]);
    EXPECT_TRUE(garbage.wait_closed(10s)) << "payload " << i << " left the connection open";
  }

  // The agent's tunnel never noticed: same session, never reconnected, and the relay still
  // accepts new tunnels.
  EXPECT_TRUE(relay.process().running()) << relay.process().err();
  EXPECT_TRUE(agent.running());
  auto active = relay.sessions(true);
  ASSERT_EQ(active.size(), 1u) << active.dump(2);
  EXPECT_EQ(active[0]["id"], id);
  EXPECT_EQ(agent.matches(kBannerRegex).size(), 1u) << agent.out();
  auto status = run({agent_bin(), "status", "--data-dir", (tmp / "agent").string(), "--json"});
  EXPECT_EQ(status.exit_code, 0) << status.out;
  EXPECT_NE(status.out.find(id), std::string::npos) << status.out;

  Process second(agent_help_argv(relay.address(), tmp / "second"));
  EXPECT_TRUE(banner_session_id(second)) << second.err();
}

}  // namespace
}  // namespace sb::e2e
