// Admins' control of the live relay and the audit rows the live path writes, end to end:
// `relay session kill [--operator]`, `relay device revoke`, `relay keys purge` (with and without
// a running relay), the control socket's mode and its handling of bad requests, and the
// attachments / channels / events rows (byte counts of an exec and of an `ssh -L` forward).
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "harness.hpp"
#include "operator_support.hpp"
#include "relay/store/store.hpp"
#include "tcp_service.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// What every operator of a killed session or attachment sees on stderr.
constexpr const char* kEndedLine = "switchboard: session ended by the administrator";

std::unique_ptr<store::Db> open_store(Relay& relay) {
  return store::Db::open(relay.data_dir() / "relay.db", false);
}

// Events of one kind, oldest first.
std::vector<json> events_of(Relay& relay, const std::string& kind) {
  auto rows = open_store(relay)->list_events(kind, 0);
  std::vector<json> out;
  for (auto it = rows.rbegin(); it != rows.rend(); ++it)
    if ((*it)["kind"] == kind) out.push_back(*it);
  return out;
}

// An exec that says it started and then waits; started once "ready" is on its stdout.
std::unique_ptr<Process> start_waiting_exec(Relay& relay, const OperatorKey& op, const fs::path& kh,
                                            const std::string& id) {
  std::unique_ptr<Process> p;
  wait_until(
      [&] {
        p = std::make_unique<Process>(
            operator_ssh_argv(relay, op, kh, id, {}, {"echo ready; exec sleep 60"}));
        if (p->wait_for_output("ready", 10s)) return true;
        p->wait(5s);
        return false;
      },
      15s);
  return p;
}

// ---- Control socket: raw requests ---------------------------------------------------------

int connect_control(const fs::path& socket_path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends data, returns the first reply line ("" on EOF or timeout).
std::string send_line(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string got;
  char buf[4096];
  while (got.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got.substr(0, got.find('\n'));
}

TEST(AuditControl, ControlSocketIsPrivateAndSurvivesBadRequests) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  const fs::path sock = relay.data_dir() / "control.sock";
  struct stat st {};
  ASSERT_EQ(::stat(sock.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  int fd = connect_control(sock);
  ASSERT_GE(fd, 0);
  auto bad = json::parse(send_line(fd, "this is not json\n"), nullptr, false);
  EXPECT_EQ(bad.value("ok", true), false) << bad;
  EXPECT_NE(bad.value("error", "").find("bad request"), std::string::npos) << bad;
  ::close(fd);

  fd = connect_control(sock);
  ASSERT_GE(fd, 0);
  auto unknown = json::parse(send_line(fd, R"({"cmd":"format.disk"})"
                                           "\n"),
                             nullptr, false);
  EXPECT_EQ(unknown.value("ok", true), false);
  EXPECT_NE(unknown.value("error", "").find("unknown command"), std::string::npos) << unknown;
  // The same connection takes another request.
  auto pong = json::parse(send_line(fd, R"({"cmd":"ping"})"
                                        "\n"),
                          nullptr, false);
  EXPECT_EQ(pong.value("ok", false), true) << pong;
  ::close(fd);

  // A line over 64 KiB is refused, and the relay goes on.
  fd = connect_control(sock);
  ASSERT_GE(fd, 0);
  auto too_long = json::parse(send_line(fd, std::string(70 * 1024, 'x')), nullptr, false);
  EXPECT_EQ(too_long.value("ok", true), false);
  EXPECT_NE(too_long.value("error", "").find("too long"), std::string::npos) << too_long;
  ::close(fd);

  fd = connect_control(sock);
  ASSERT_GE(fd, 0);
  EXPECT_NE(send_line(fd, "{\"cmd\":\"ping\"}\n").find("\"ok\":true"), std::string::npos);
  ::close(fd);
  EXPECT_TRUE(relay.process().running());

  // The socket goes away with the relay; the CLI then says the relay is not running.
  EXPECT_EQ(relay.stop(), 0);
  EXPECT_FALSE(fs::exists(sock));
  auto r = relay.admin({"session", "kill", "482913075"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(
      r.err.find("relay is not running on " + relay.data_dir().string() + " (no control socket)"),
      std::string::npos)
      << r.err;
}

// ---- session kill ---------------------------------------------------------------------------

TEST(AuditControl, SessionKillEndsEveryAttachmentWithinASecond) {
  AliceAndShellAgent device;
  auto& [tmp, relay, alice, agent, id, consent] = device;
  ASSERT_TRUE(id) << agent.err();
  auto exec = start_waiting_exec(relay, alice, tmp / "kh", *id);
  ASSERT_TRUE(exec && exec->running()) << (exec ? exec->err() : "");

  auto start = Clock::now();
  auto r = relay.admin({"session", "kill", *id});
  auto exited = exec->wait(5s);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Ended session " + spaced_session_id(*id) + " and disconnected alice"),
            std::string::npos)
      << r.out;
  ASSERT_TRUE(exited) << exec->err();
  EXPECT_NE(*exited, 0);
  EXPECT_LT(seconds, 1.0) << "kill to operator gone took " << seconds << " s";
  RecordProperty("kill_to_operator_gone_ms", static_cast<int>(seconds * 1000));
  EXPECT_TRUE(exec->wait_for_output(kEndedLine, 2s, true)) << exec->err();
  EXPECT_TRUE(agent.wait_for_output("the relay ended this session", 5s, true)) << agent.err();
  // Attended help ends with its session instead of asking for a new ID.
  auto agent_exit = agent.wait(5s);
  ASSERT_TRUE(agent_exit) << "device-agent help kept running after the kill: " << agent.err();
  EXPECT_EQ(*agent_exit, 0) << agent.err();
  EXPECT_NE(agent.out().find("ended by the relay's administrator"), std::string::npos)
      << agent.out();

  // The audit shows who ended it.
  const std::string by = "killed by admin:" + current_user();
  ASSERT_TRUE(wait_until([&] {
    auto s = open_store(relay)->find_session(*id);
    return s && !s->ended.empty();
  }));
  EXPECT_EQ(open_store(relay)->find_session(*id)->end_reason, by);
  auto killed = events_of(relay, "session.killed");
  ASSERT_EQ(killed.size(), 1u);
  EXPECT_EQ(killed[0]["actor"], "admin:" + current_user());
  EXPECT_EQ(killed[0]["detail"]["session"], *id);
  EXPECT_EQ(killed[0]["detail"]["by"], current_user());
  auto attachments = open_store(relay)->attachment_rows(*id);
  ASSERT_EQ(attachments.size(), 1u);
  EXPECT_EQ(attachments[0].end_reason, by);

  // A session that is not live: exit 1 and a clear error.
  auto again = relay.admin({"session", "kill", *id});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("is not live"), std::string::npos) << again.err;
}

TEST(AuditControl, SessionKillOperatorEndsOnlyThatAttachment) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  auto alice = register_operator(relay, tmp.path(), "alice");
  auto bob = register_operator(relay, tmp.path(), "bob");
  Process agent(agent_help_argv(relay.address(), tmp / "agent", {"--shell", "/bin/sh"}));
  auto id = banner_session_id(agent);
  ASSERT_TRUE(id) << agent.err();
  ConsentAnswerer consent(agent);
  auto a = start_waiting_exec(relay, alice, tmp / "kh", *id);
  auto b = start_waiting_exec(relay, bob, tmp / "kh", *id);
  ASSERT_TRUE(a && a->running() && b && b->running());

  auto r = relay.admin({"session", "kill", *id, "--operator", "alice"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Ended alice's attachment"), std::string::npos) << r.out;
  ASSERT_TRUE(a->wait(2s)) << a->err();
  EXPECT_TRUE(a->wait_for_output(kEndedLine, 2s, true)) << a->err();
  // bob and the session go on.
  EXPECT_FALSE(b->wait(500ms));
  auto still = run_operator_ssh(operator_ssh_argv(relay, bob, tmp / "kh", *id, {}, {"echo alive"}));
  EXPECT_EQ(still.out, "alive\n") << still.err;

  auto nobody = relay.admin({"session", "kill", *id, "--operator", "carol"});
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_NE(nobody.err.find("carol is not attached"), std::string::npos) << nobody.err;

  auto killed = events_of(relay, "session.killed");
  ASSERT_EQ(killed.size(), 1u);
  EXPECT_EQ(killed[0]["detail"]["operator"], "alice");
  ASSERT_TRUE(wait_until([&] {
    for (const auto& row : open_store(relay)->attachment_rows(*id))
      if (row.operator_name == "alice" && row.ended.has_value()) return true;
    return false;
  }));
  for (const auto& row : open_store(relay)->attachment_rows(*id)) {
    if (row.operator_name == "alice") {
      EXPECT_EQ(row.end_reason, "killed by admin:" + current_user());
    }
  }
}

// `ssh -tt` into the shared terminal, once it shows something (restarted while the relay has
// not loaded a key registered a moment ago).
std::unique_ptr<Process> open_terminal(Relay& relay, const OperatorKey& op, const fs::path& kh,
                                       const std::string& user) {
  std::unique_ptr<Process> p;
  wait_until(
      [&] {
        p = std::make_unique<Process>(operator_ssh_argv(relay, op, kh, user, {"-tt"}));
        wait_until([&] { return !p->out().empty() || !p->running(); }, 10s);
        if (!p->out().empty()) return true;
        p->wait(5s);
        return false;
      },
      15s);
  return p;
}

TEST(AuditControl, SessionKillReachesSharedTerminalsAndMembersBytesAreCounted) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  auto alice = register_operator(relay, tmp.path(), "alice");
  auto carol = register_operator(relay, tmp.path(), "carol");
  Process agent(agent_help_argv(relay.address(), tmp / "agent", {"--shell", "/bin/sh"}));
  auto id = banner_session_id(agent);
  ASSERT_TRUE(id) << agent.err();
  ConsentAnswerer consent(agent);
  auto a = open_terminal(relay, alice, tmp / "kh", *id);
  auto c = open_terminal(relay, carol, tmp / "kh", *id + "+ro");
  ASSERT_TRUE(a->running() && c->running());
  const std::string typed = "echo SHARED-$((6*7))\n";
  a->write_stdin(typed);
  ASSERT_TRUE(a->wait_for_output("SHARED-42", 8s)) << a->out();
  ASSERT_TRUE(c->wait_for_output("SHARED-42", 8s)) << c->out();

  auto r = relay.admin({"session", "kill", *id});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (Process* p : {a.get(), c.get()}) {
    EXPECT_TRUE(p->wait(2s)) << p->err();
    EXPECT_TRUE(p->wait_for_output(kEndedLine, 2s, true)) << p->err();
  }

  std::vector<store::AttachmentRow> attachments;
  ASSERT_TRUE(wait_until([&] {
    attachments = open_store(relay)->attachment_rows(*id);
    if (attachments.size() != 2) return false;
    for (const auto& at : attachments)
      for (const auto& ch : open_store(relay)->channel_rows(at.id))
        if (!ch.ended) return false;
    return true;
  }));
  EXPECT_EQ(attachments[0].mode, "shared");
  EXPECT_EQ(attachments[1].mode, "observer");
  auto alices = open_store(relay)->channel_rows(attachments[0].id);
  auto carols = open_store(relay)->channel_rows(attachments[1].id);
  ASSERT_EQ(alices.size(), 1u);
  ASSERT_EQ(carols.size(), 1u);
  EXPECT_EQ(alices[0].kind, "shell");
  EXPECT_EQ(alices[0].target, "shared");
  EXPECT_EQ(alices[0].bytes_in, typed.size());  // what alice typed, forwarded to the device
  EXPECT_EQ(carols[0].bytes_in, 0u);            // an observer's keystrokes go nowhere
  // Both saw the screen: at least the command's output, delivered to each of them.
  EXPECT_GT(alices[0].bytes_out, 9u);
  EXPECT_GT(carols[0].bytes_out, 9u);
}

// ---- device revoke ----------------------------------------------------------------------------

TEST(AuditControl, RevokeClosesTheLiveTunnelAndRefusesTheKeyFromThenOn) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  std::string token = create_enroll_token(relay, "web-01");
  Process agent(agent_run_argv(relay.address(), tmp / "agent", {"--enroll-token", token}));
  ASSERT_TRUE(logged_session_id(agent)) << agent.err();

  auto start = Clock::now();
  auto r = relay.admin({"device", "revoke", "web-01"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Revoked device web-01"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Closed its live tunnel"), std::string::npos) << r.out;
  EXPECT_TRUE(agent.wait_for_output("the relay ended this session", 3s, true)) << agent.err();
  RecordProperty(
      "revoke_to_tunnel_closed_ms",
      static_cast<int>(std::chrono::duration_cast<Millis>(Clock::now() - start).count()));

  // The agent keeps trying (max backoff 1 s): every attempt is refused, no new session.
  EXPECT_TRUE(relay.process().wait_for_output("device key revoked", 5s, true))
      << relay.process().err();
  EXPECT_FALSE(logged_session_id(agent, 2, 2s)) << agent.err();
  EXPECT_EQ(relay.sessions(true).size(), 0u);
  EXPECT_EQ(find_by(relay.devices(), "name", "web-01")["status"], "revoked");
  auto revoked = events_of(relay, "device.revoked");
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0]["actor"], "admin:" + current_user());
  EXPECT_EQ(revoked[0]["detail"]["device"], "web-01");

  // Unknown devices are an error.
  auto unknown = relay.admin({"device", "revoke", "web-99"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no enrolled device named web-99"), std::string::npos) << unknown.err;
}

// ---- keys purge -------------------------------------------------------------------------------

TEST(AuditControl, KeysPurgeWorksWithAndWithoutARunningRelay) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  Process agent(agent_help_argv(relay.address(), tmp / "agent"));
  auto id = banner_session_id(agent);
  ASSERT_TRUE(id) << agent.err();

  auto live = relay.admin({"keys", "purge"});
  EXPECT_EQ(live.exit_code, 0) << live.out << live.err;
  EXPECT_NE(live.out.find("Purged: 0 dead tunnel(s) closed"), std::string::npos) << live.out;
  EXPECT_EQ(relay.tunnel_keys().size(), 1u);  // a live tunnel keeps its key
  ASSERT_TRUE(wait_until([&] { return !events_of(relay, "janitor.purge").empty(); }));
  bool by_admin = false;
  for (const auto& e : events_of(relay, "janitor.purge"))
    by_admin |= e["actor"] == "admin:" + current_user();
  EXPECT_TRUE(by_admin);

  // A crashed relay leaves the session open and its key behind; purge cleans up offline.
  relay.kill9();
  agent.signal(SIGKILL);
  agent.wait(5s);
  EXPECT_EQ(relay.tunnel_keys().size(), 1u);
  auto offline = relay.admin({"keys", "purge"});
  EXPECT_EQ(offline.exit_code, 0) << offline.out << offline.err;
  EXPECT_NE(offline.out.find("The relay is not running: 1 session(s)"), std::string::npos)
      << offline.out;
  EXPECT_EQ(relay.tunnel_keys().size(), 0u);
  EXPECT_EQ(relay.sessions(true).size(), 0u);
}

// ---- audit rows ---------------------------------------------------------------------------------

TEST(AuditControl, AttachmentsChannelsAndEventsRecordWhatMoved) {
  TempDir tmp;
  EchoService screen("RFB 003.008\n", "");  // the banner, then a raw echo
  Relay relay(tmp / "relay");
  auto alice = register_operator(relay, tmp.path(), "alice");
  Process agent(agent_help_argv(
      relay.address(), tmp / "agent",
      {"--shell", "/bin/sh", "--screen", "127.0.0.1:" + std::to_string(screen.port())}));
  auto id = banner_session_id(agent);
  ASSERT_TRUE(id) << agent.err();
  ConsentAnswerer consent(agent);
  const auto kh = tmp / "kh";

  // An exec: 1234 bytes in on stdin, 5000 bytes out, exit status 7.
  const std::string command = "cat >/dev/null; head -c 5000 /dev/zero; exit 7";
  std::unique_ptr<Process> exec;
  ASSERT_TRUE(wait_until(
      [&] {
        exec = std::make_unique<Process>(operator_ssh_argv(relay, alice, kh, *id, {}, {command}));
        exec->write_stdin(std::string(1234, 'i'));
        exec->close_stdin();
        auto code = exec->wait(15s);
        return code && *code == 7;
      },
      15s))
      << exec->err();
  // Its output is read by a thread of the harness: wait for all of it.
  EXPECT_TRUE(wait_until([&] { return exec->out().size() == 5000u; }, 5s)) << exec->out().size();

  // An ssh -L forward to the device's screen: 100 bytes each way plus the 12-byte banner.
  // A free port may be taken by another test before ssh binds it: then ssh gives up, after it
  // attached (an extra, short attachment), and the test tries another port.
  std::unique_ptr<Process> forwarder;
  int fd = -1;
  for (int attempt = 0; attempt < 3 && fd < 0; ++attempt) {
    int local = free_port();
    forwarder = std::make_unique<Process>(
        operator_ssh_argv(relay, alice, kh, *id,
                          {"-v", "-N", "-o", "ExitOnForwardFailure=yes", "-L",
                           "127.0.0.1:" + std::to_string(local) + ":screen:5900"}));
    if (!forwarder->wait_for_output("Local forwarding listening on", 15s, true)) continue;
    fd = connect_tcp(local);
    if (fd < 0) forwarder->wait(5s);
  }
  Process& forward = *forwarder;
  ASSERT_GE(fd, 0) << forward.err();
  EXPECT_EQ(read_exactly(fd, 12), "RFB 003.008\n");
  std::string payload(100, 'p');
  ASSERT_EQ(::send(fd, payload.data(), payload.size(), MSG_NOSIGNAL), 100);
  EXPECT_EQ(read_exactly(fd, 100), payload);
  ::close(fd);
  forward.wait_for_output("\x01never\x02", 1s, true);  // let the channel close
  forward.signal(SIGTERM);
  forward.wait(5s);

  // Every attachment ends: wait until the relay has written both.
  std::vector<store::AttachmentRow> attachments;
  ASSERT_TRUE(wait_until(
      [&] {
        attachments = open_store(relay)->attachment_rows(*id);
        if (attachments.size() < 2) return false;
        for (const auto& a : attachments)
          if (!a.ended) return false;
        return true;
      },
      10s));
  for (const auto& a : attachments) {
    EXPECT_EQ(a.operator_name, "alice");
    EXPECT_EQ(a.fingerprint, alice.fingerprint);
    EXPECT_EQ(a.mode, "shared");
    EXPECT_EQ(a.source_addr, "127.0.0.1");
    EXPECT_NE(a.started, Time{});
  }
  auto exec_channels = open_store(relay)->channel_rows(attachments[0].id);
  ASSERT_EQ(exec_channels.size(), 1u);
  EXPECT_EQ(exec_channels[0].kind, "exec");
  EXPECT_EQ(exec_channels[0].command, command);
  EXPECT_EQ(exec_channels[0].exit_status, 7);
  EXPECT_EQ(exec_channels[0].bytes_in, 1234u);
  EXPECT_EQ(exec_channels[0].bytes_out, 5000u);
  EXPECT_TRUE(exec_channels[0].ended.has_value());

  auto forward_channels = open_store(relay)->channel_rows(attachments.back().id);
  ASSERT_EQ(forward_channels.size(), 1u);
  EXPECT_EQ(forward_channels[0].kind, "screen");
  EXPECT_EQ(forward_channels[0].target, "screen:5900");
  EXPECT_EQ(forward_channels[0].bytes_in, 100u);
  EXPECT_EQ(forward_channels[0].bytes_out, 112u);
  EXPECT_TRUE(forward_channels[0].ended.has_value());

  // The events, in order, with the shared keys.
  auto attached = events_of(relay, "operator.attached");
  auto detached = events_of(relay, "operator.detached");
  ASSERT_EQ(attached.size(), attachments.size());
  ASSERT_EQ(detached.size(), attachments.size());
  EXPECT_EQ(attached[0]["detail"]["session"], *id);
  EXPECT_EQ(attached[0]["detail"]["operator"], "alice");
  EXPECT_EQ(attached[0]["detail"]["fingerprint"], alice.fingerprint);
  EXPECT_EQ(attached[0]["detail"]["mode"], "shared");
  EXPECT_EQ(attached[0]["detail"]["source_addr"], "127.0.0.1");
  EXPECT_EQ(attached[0]["detail"]["attachment"], attachments[0].id);
  EXPECT_TRUE(detached[0]["detail"].contains("duration_ms"));
  EXPECT_TRUE(detached[0]["detail"].contains("reason"));
  auto closed = events_of(relay, "channel.closed");
  ASSERT_EQ(closed.size(), 2u);  // a forwarder that gave up opened no channel
  EXPECT_EQ(closed[0]["detail"]["kind"], "exec");
  EXPECT_EQ(closed[0]["detail"]["command"], command);
  EXPECT_EQ(closed[0]["detail"]["exit_status"], 7);
  EXPECT_EQ(closed[0]["detail"]["bytes_in"], 1234);
  EXPECT_EQ(closed[0]["detail"]["bytes_out"], 5000);
  EXPECT_EQ(closed[0]["detail"]["channel"], exec_channels[0].id);
  EXPECT_EQ(closed[1]["detail"]["kind"], "screen");
  EXPECT_EQ(closed[1]["detail"]["target"], "screen:5900");
  EXPECT_EQ(events_of(relay, "consent.asked").size(), 2u);
  auto connected = events_of(relay, "device.connected");
  ASSERT_EQ(connected.size(), 1u);
  EXPECT_EQ(connected[0]["detail"]["session"], *id);

  // The device leaves: device.disconnected with its reason.
  agent.signal(SIGTERM);
  agent.wait(5s);
  ASSERT_TRUE(wait_until([&] { return events_of(relay, "device.disconnected").size() == 1; }));
  auto gone = events_of(relay, "device.disconnected")[0]["detail"];
  EXPECT_EQ(gone["session"], *id);
  EXPECT_FALSE(gone.value("reason", "").empty());
}

}  // namespace
}  // namespace sb::e2e
