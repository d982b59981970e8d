// Admins' control of the live relay and the audit rows the live path writes, end to end:
// `relay session kill [--operator]`, `relay device revoke`, `relay keys purge` (with and without
// a running relay), the control socket's mode and its handling of bad requests, and the
// attachments / channels / events rows (byte counts of an exec and of an `ssh -L` forward).
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.hpp"
#include "operator_support.hpp"
#include "relay/control/control_client.hpp"
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

class AuditControl : public OperatorTest {
 protected:
  // An exec by operator `name` that says it started and then waits; started once "ready" is on
  // its stdout.
  std::unique_ptr<Process> start_waiting_exec(const std::string& name) {
    std::unique_ptr<Process> p;
    wait_until(
        [&] {
          p = std::make_unique<Process>(ssh(name, id_, {}, {"echo ready; exec sleep 60"}));
          if (p->wait_for_output("ready", 10s)) return true;
          p->wait(5s);
          return false;
        },
        15s);
    return p;
  }
};

// ---- Control socket ---------------------------------------------------------------------------

// The control socket's reply to line, sent as it is with the admin CLI's own client; an empty
// object (and a failure of the test) if no relay answers.
json ask_raw(const fs::path& socket_path, const std::string& line) {
  try {
    auto reply = relay::ControlClient(socket_path).ask_raw(line);
    EXPECT_TRUE(reply) << "no relay listens on " << socket_path;
    return reply.value_or(json::object());
  } catch (const std::exception& e) {
    ADD_FAILURE() << "control socket: " << e.what();
    return json::object();
  }
}

TEST_F(AuditControl, ControlSocketIsPrivateAndSurvivesBadRequests) {
  start_relay({});
  const fs::path sock = relay().data_dir() / "control.sock";
  struct stat st {};
  ASSERT_EQ(::stat(sock.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto bad = ask_raw(sock, "this is not json\n");
  EXPECT_EQ(bad.value("ok", true), false) << bad;
  EXPECT_NE(bad.value("error", "").find("bad request"), std::string::npos) << bad;

  // An unknown command, and a second request on the same connection: the client reads the
  // first reply only, so the second is one whose effect shows (a purge event by its "by").
  auto unknown = ask_raw(sock, R"({"cmd":"format.disk"})"
                               "\n"
                               R"({"cmd":"keys.purge","by":"same-connection"})"
                               "\n");
  EXPECT_EQ(unknown.value("ok", true), false);
  EXPECT_NE(unknown.value("error", "").find("unknown command"), std::string::npos) << unknown;
  EXPECT_TRUE(wait_until([&] {
    for (const auto& e : events_of(relay(), "janitor.purge"))
      if (e["actor"] == "admin:same-connection") return true;
    return false;
  })) << "the second request on the connection was not served";
  auto pong = ask_raw(sock, R"({"cmd":"ping"})"
                            "\n");
  EXPECT_EQ(pong.value("ok", false), true) << pong;

  // A line over 64 KiB is refused, and the relay goes on.
  auto too_long = ask_raw(sock, std::string(70 * 1024, 'x'));
  EXPECT_EQ(too_long.value("ok", true), false);
  EXPECT_NE(too_long.value("error", "").find("too long"), std::string::npos) << too_long;

  EXPECT_EQ(ask_raw(sock, "{\"cmd\":\"ping\"}\n").value("ok", false), true);
  EXPECT_TRUE(relay().process().running());

  // The socket goes away with the relay; the CLI then says the relay is not running.
  EXPECT_EQ(relay().stop(), 0);
  EXPECT_FALSE(fs::exists(sock));
  EXPECT_FALSE(relay::ControlClient(sock).ask({{"cmd", "ping"}}));
  auto r = relay().admin({"session", "kill", "482913075"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(
      r.err.find("relay is not running on " + relay().data_dir().string() + " (no control socket)"),
      std::string::npos)
      << r.err;
}

// ---- session kill ---------------------------------------------------------------------------

TEST_F(AuditControl, SessionKillEndsEveryAttachmentWithinASecond) {
  start_device({"alice"});
  auto exec = start_waiting_exec("alice");
  ASSERT_TRUE(exec && exec->running()) << (exec ? exec->err() : "");

  auto start = Clock::now();
  auto r = relay().admin({"session", "kill", id_});
  auto exited = exec->wait(5s);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Ended session " + spaced_session_id(id_) + " and disconnected alice"),
            std::string::npos)
      << r.out;
  ASSERT_TRUE(exited) << exec->err();
  EXPECT_NE(*exited, 0);
  // The CLI is a sanitized process too in that build: its start alone can take a loaded
  // machine's half second, so the bound there is the relay's share plus that.
  const double bound = sanitized_binaries() ? 2.0 : 1.0;
  EXPECT_LT(seconds, bound) << "kill to operator gone took " << seconds << " s";
  RecordProperty("kill_to_operator_gone_ms", static_cast<int>(seconds * 1000));
  EXPECT_TRUE(exec->wait_for_output(kEndedLine, 2s, true)) << exec->err();
  EXPECT_TRUE(agent().wait_for_output("the relay ended this session", 5s, true)) << agent().err();
  // Attended help ends with its session instead of asking for a new ID.
  auto agent_exit = agent().wait(5s);
  ASSERT_TRUE(agent_exit) << "device-agent help kept running after the kill: " << agent().err();
  EXPECT_EQ(*agent_exit, 0) << agent().err();
  EXPECT_NE(agent().out().find("ended by the relay's administrator"), std::string::npos)
      << agent().out();

  // The audit shows who ended it.
  const std::string by = "killed by admin:" + current_user();
  ASSERT_TRUE(wait_until([&] {
    auto s = open_store(relay())->find_session(id_);
    return s && s->ended.has_value();
  }));
  EXPECT_EQ(open_store(relay())->find_session(id_)->end_reason, by);
  auto killed = events_of(relay(), "session.killed");
  ASSERT_EQ(killed.size(), 1u);
  EXPECT_EQ(killed[0]["actor"], "admin:" + current_user());
  EXPECT_EQ(killed[0]["detail"]["session"], id_);
  EXPECT_EQ(killed[0]["detail"]["by"], current_user());
  auto attachments = open_store(relay())->attachment_rows(id_);
  ASSERT_EQ(attachments.size(), 1u);
  EXPECT_EQ(attachments[0].end_reason, by);

  // A session that is not live: exit 1 and a clear error.
  auto again = relay().admin({"session", "kill", id_});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("is not live"), std::string::npos) << again.err;
}

TEST_F(AuditControl, SessionKillOperatorEndsOnlyThatAttachment) {
  start_device({"alice", "bob"});
  auto a = start_waiting_exec("alice");
  auto b = start_waiting_exec("bob");
  ASSERT_TRUE(a && a->running() && b && b->running());

  auto r = relay().admin({"session", "kill", id_, "--operator", "alice"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Ended alice's attachment"), std::string::npos) << r.out;
  ASSERT_TRUE(a->wait(2s)) << a->err();
  EXPECT_TRUE(a->wait_for_output(kEndedLine, 2s, true)) << a->err();
  // bob and the session go on.
  EXPECT_FALSE(b->wait(500ms));
  auto still = exec("bob", "echo alive");
  EXPECT_EQ(still.out, "alive\n") << still.err;

  auto nobody = relay().admin({"session", "kill", id_, "--operator", "carol"});
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_NE(nobody.err.find("carol is not attached"), std::string::npos) << nobody.err;

  auto killed = events_of(relay(), "session.killed");
  ASSERT_EQ(killed.size(), 1u);
  EXPECT_EQ(killed[0]["detail"]["operator"], "alice");
  ASSERT_TRUE(wait_until([&] {
    for (const auto& row : open_store(relay())->attachment_rows(id_))
      if (row.operator_name == "alice" && row.ended.has_value()) return true;
    return false;
  }));
  for (const auto& row : open_store(relay())->attachment_rows(id_)) {
    if (row.operator_name == "alice") {
      EXPECT_EQ(row.end_reason, "killed by admin:" + current_user());
    }
  }
}

TEST_F(AuditControl, SessionKillReachesSharedTerminalsAndMembersBytesAreCounted) {
  start_device({"alice", "carol"});
  auto shows_something = [](Process& t) { return !t.out().empty(); };
  auto a = start_operator_process(ssh("alice", id_, {"-tt"}), shows_something);
  auto c = start_operator_process(ssh("carol", id_ + "+ro", {"-tt"}), shows_something);
  ASSERT_TRUE(a->running() && c->running());
  const std::string typed = "echo SHARED-$((6*7))\n";
  a->write_stdin(typed);
  ASSERT_TRUE(a->wait_for_output("SHARED-42", 8s)) << a->out();
  ASSERT_TRUE(c->wait_for_output("SHARED-42", 8s)) << c->out();

  auto r = relay().admin({"session", "kill", id_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (Process* p : {a.get(), c.get()}) {
    EXPECT_TRUE(p->wait(2s)) << p->err();
    EXPECT_TRUE(p->wait_for_output(kEndedLine, 2s, true)) << p->err();
  }

  std::vector<store::AttachmentRow> attachments;
  ASSERT_TRUE(wait_until([&] {
    attachments = open_store(relay())->attachment_rows(id_);
    if (attachments.size() != 2) return false;
    for (const auto& at : attachments)
      for (const auto& ch : open_store(relay())->channel_rows(at.id))
        if (!ch.ended) return false;
    return true;
  }));
  EXPECT_EQ(attachments[0].mode, "shared");
  EXPECT_EQ(attachments[1].mode, "observer");
  auto alices = open_store(relay())->channel_rows(attachments[0].id);
  auto carols = open_store(relay())->channel_rows(attachments[1].id);
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

TEST_F(AuditControl, RevokeClosesTheLiveTunnelAndRefusesTheKeyFromThenOn) {
  start_relay({});
  start_enrolled_agent(create_enroll_token(relay(), "web-01"), {});

  auto start = Clock::now();
  auto r = relay().admin({"device", "revoke", "web-01"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Revoked device web-01"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Closed its live tunnel"), std::string::npos) << r.out;
  EXPECT_TRUE(agent().wait_for_output("the relay ended this session", 3s, true)) << agent().err();
  RecordProperty(
      "revoke_to_tunnel_closed_ms",
      static_cast<int>(std::chrono::duration_cast<Millis>(Clock::now() - start).count()));

  // The agent keeps trying (max backoff 1 s): every attempt is refused, no new session.
  EXPECT_TRUE(relay().process().wait_for_output("device key revoked", 5s, true))
      << relay().process().err();
  EXPECT_FALSE(logged_session_id(agent(), 2, 2s)) << agent().err();
  EXPECT_EQ(relay().sessions(true).size(), 0u);
  EXPECT_EQ(find_by(relay().devices(), "name", "web-01")["status"], "revoked");
  auto revoked = events_of(relay(), "device.revoked");
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0]["actor"], "admin:" + current_user());
  EXPECT_EQ(revoked[0]["detail"]["device"], "web-01");

  // Unknown devices are an error.
  auto unknown = relay().admin({"device", "revoke", "web-99"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no enrolled device named web-99"), std::string::npos) << unknown.err;
}

// ---- keys purge -------------------------------------------------------------------------------

TEST_F(AuditControl, KeysPurgeWorksWithAndWithoutARunningRelay) {
  start_relay({});
  start_adhoc_agent({}, "");

  auto live = relay().admin({"keys", "purge"});
  EXPECT_EQ(live.exit_code, 0) << live.out << live.err;
  EXPECT_NE(live.out.find("Purged: 0 dead tunnel(s) closed"), std::string::npos) << live.out;
  EXPECT_EQ(relay().tunnel_keys().size(), 1u);  // a live tunnel keeps its key
  ASSERT_TRUE(wait_until([&] { return !events_of(relay(), "janitor.purge").empty(); }));
  bool by_admin = false;
  for (const auto& e : events_of(relay(), "janitor.purge"))
    by_admin |= e["actor"] == "admin:" + current_user();
  EXPECT_TRUE(by_admin);

  // A crashed relay leaves the session open and its key behind; purge cleans up offline.
  relay().kill9();
  agent().signal(SIGKILL);
  agent().wait(5s);
  EXPECT_EQ(relay().tunnel_keys().size(), 1u);
  auto offline = relay().admin({"keys", "purge"});
  EXPECT_EQ(offline.exit_code, 0) << offline.out << offline.err;
  EXPECT_NE(offline.out.find("The relay is not running: 1 session(s)"), std::string::npos)
      << offline.out;
  EXPECT_EQ(relay().tunnel_keys().size(), 0u);
  EXPECT_EQ(relay().sessions(true).size(), 0u);
}

// ---- audit rows ---------------------------------------------------------------------------------

TEST_F(AuditControl, AttachmentsChannelsAndEventsRecordWhatMoved) {
  EchoService screen("RFB 003.008\n", "");  // the banner, then a raw echo
  start_relay({"alice"});
  start_adhoc_agent(
      {"--shell", "/bin/sh", "--screen", "127.0.0.1:" + std::to_string(screen.port())});
  const auto& alice = op("alice");

  // An exec: 1234 bytes in on stdin, 5000 bytes out, exit status 7.
  const std::string command = "cat >/dev/null; head -c 5000 /dev/zero; exit 7";
  auto ran = exec("alice", command, {.input = std::string(1234, 'i')});
  ASSERT_EQ(ran.exit_code, 7) << ran.err;
  EXPECT_EQ(ran.out.size(), 5000u);

  // An ssh -L forward to the device's screen: 100 bytes each way plus the 12-byte banner. (A
  // port race makes the test try another port: an extra, short attachment.)
  auto forwarded = connect_through_forward("alice", "screen:5900");
  Process& forward = *forwarded.ssh;
  const int fd = forwarded.fd;
  ASSERT_GE(fd, 0) << forward.err();
  EXPECT_EQ(read_exactly(fd, 12), "RFB 003.008\n");
  std::string payload(100, 'p');
  ASSERT_EQ(::send(fd, payload.data(), payload.size(), MSG_NOSIGNAL), 100);
  EXPECT_EQ(read_exactly(fd, 100), payload);
  ::close(fd);
  // The channel ends with its TCP connection: its row is written before ssh is stopped.
  EXPECT_TRUE(wait_until([&] { return events_of(relay(), "channel.closed").size() == 2; }));
  forward.signal(SIGTERM);
  forward.wait(5s);

  // Every attachment ends: wait until the relay has written both.
  std::vector<store::AttachmentRow> attachments;
  ASSERT_TRUE(wait_until(
      [&] {
        attachments = open_store(relay())->attachment_rows(id_);
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
  auto exec_channels = open_store(relay())->channel_rows(attachments[0].id);
  ASSERT_EQ(exec_channels.size(), 1u);
  EXPECT_EQ(exec_channels[0].kind, "exec");
  EXPECT_EQ(exec_channels[0].command, command);
  EXPECT_EQ(exec_channels[0].exit_status, 7);
  EXPECT_EQ(exec_channels[0].bytes_in, 1234u);
  EXPECT_EQ(exec_channels[0].bytes_out, 5000u);
  EXPECT_TRUE(exec_channels[0].ended.has_value());

  auto forward_channels = open_store(relay())->channel_rows(attachments.back().id);
  ASSERT_EQ(forward_channels.size(), 1u);
  EXPECT_EQ(forward_channels[0].kind, "screen");
  EXPECT_EQ(forward_channels[0].target, "screen:5900");
  EXPECT_EQ(forward_channels[0].bytes_in, 100u);
  EXPECT_EQ(forward_channels[0].bytes_out, 112u);
  EXPECT_TRUE(forward_channels[0].ended.has_value());

  // The events, in order, with the shared keys.
  auto attached = events_of(relay(), "operator.attached");
  auto detached = events_of(relay(), "operator.detached");
  ASSERT_EQ(attached.size(), attachments.size());
  ASSERT_EQ(detached.size(), attachments.size());
  EXPECT_EQ(attached[0]["detail"]["session"], id_);
  EXPECT_EQ(attached[0]["detail"]["operator"], "alice");
  EXPECT_EQ(attached[0]["detail"]["fingerprint"], alice.fingerprint);
  EXPECT_EQ(attached[0]["detail"]["mode"], "shared");
  EXPECT_EQ(attached[0]["detail"]["source_addr"], "127.0.0.1");
  EXPECT_EQ(attached[0]["detail"]["attachment"], attachments[0].id);
  EXPECT_TRUE(detached[0]["detail"].contains("duration_ms"));
  EXPECT_TRUE(detached[0]["detail"].contains("reason"));
  auto closed = events_of(relay(), "channel.closed");
  ASSERT_EQ(closed.size(), 2u);  // a forwarder that gave up opened no channel
  EXPECT_EQ(closed[0]["detail"]["kind"], "exec");
  EXPECT_EQ(closed[0]["detail"]["command"], command);
  EXPECT_EQ(closed[0]["detail"]["exit_status"], 7);
  EXPECT_EQ(closed[0]["detail"]["bytes_in"], 1234);
  EXPECT_EQ(closed[0]["detail"]["bytes_out"], 5000);
  EXPECT_EQ(closed[0]["detail"]["channel"], exec_channels[0].id);
  EXPECT_EQ(closed[1]["detail"]["kind"], "screen");
  EXPECT_EQ(closed[1]["detail"]["target"], "screen:5900");
  EXPECT_EQ(events_of(relay(), "consent.asked").size(), 2u);
  auto connected = events_of(relay(), "device.connected");
  ASSERT_EQ(connected.size(), 1u);
  EXPECT_EQ(connected[0]["detail"]["session"], id_);

  // The device leaves: device.disconnected with its reason.
  agent().signal(SIGTERM);
  agent().wait(5s);
  ASSERT_TRUE(wait_until([&] { return events_of(relay(), "device.disconnected").size() == 1; }));
  auto gone = events_of(relay(), "device.disconnected")[0]["detail"];
  EXPECT_EQ(gone["session"], id_);
  EXPECT_FALSE(gone.value("reason", "").empty());
}

}  // namespace
}  // namespace sb::e2e
