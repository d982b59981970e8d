// The whole audit story of one session, end to end, read back the way an admin reads it:
// `relay audit --json` (with its filters and paging) and `relay session show --json`.
// Ad-hoc agent (consent answered) with --allow-proxy; alice runs an exec through OpenSSH with
// known stdin and output and exit 3, bob moves known bytes each way through `ssh -L` to a TCP
// service only the device reaches, alice then opens a private shell, and the admin kills the
// session while alice and bob are attached. Every event, attachment and channel must be there,
// in order, with its fields and the exact byte counts. Plus: a forward to an agentless device
// is a `service` channel.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "harness.hpp"
#include "tcp_service.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The 20-byte greeting of a service on 127.0.0.1 that only the device is told about; it then
// echoes everything raw until EOF (so the bytes each way are known exactly, whatever the chunks).
constexpr const char* kGreeting = "HELLO-FROM-SERVICE!\n";

std::vector<json> of_kind(const json& rows, const std::string& kind) {
  std::vector<json> out;
  for (const auto& row : rows)
    if (row["kind"] == kind) out.push_back(row);
  return out;
}

std::vector<std::int64_t> ids_of(const json& rows) {
  std::vector<std::int64_t> out;
  for (const auto& row : rows) out.push_back(row["id"].get<std::int64_t>());
  return out;
}

// Position (oldest first) of the first row matching pred; -1 if none.
template <class Pred>
int position(const json& timeline, Pred pred) {
  for (std::size_t i = 0; i < timeline.size(); ++i)
    if (pred(timeline[i])) return static_cast<int>(i);
  return -1;
}

std::int64_t attachment_of(const json& row) {
  const json& d = row["detail"];
  return d.contains("attachment") && d["attachment"].is_number()
             ? d["attachment"].get<std::int64_t>()
             : -1;
}

TEST(AuditStory, TwoOperatorsExecProxyAndKillAreAllInTheAudit) {
  TempDir tmp;
  EchoService service(kGreeting, "");
  Relay relay(tmp / "relay");
  auto alice = register_operator(relay, tmp.path(), "alice");
  auto bob = register_operator(relay, tmp.path(), "bob");
  Process agent(agent_help_argv(relay.address(), tmp / "agent",
                                {"--shell", "/bin/sh", "--allow-proxy", "127.0.0.0/8"}));
  auto spaced = agent.wait_for_match(kBannerRegex, 15s);
  ASSERT_TRUE(spaced) << agent.err();
  const std::string id = digits_only(*spaced);
  ConsentAnswerer consent(agent);
  const auto kh = tmp / "known_hosts";

  // 1. alice: an exec with 777 bytes on stdin, 4321 bytes out, exit status 3.
  const std::string command = "cat >/dev/null; head -c 4321 /dev/zero; exit 3";
  const std::string typed_in(777, 'i');
  std::unique_ptr<Process> exec;
  ASSERT_TRUE(wait_until(
      [&] {
        exec = std::make_unique<Process>(operator_ssh_argv(relay, alice, kh, id, {}, {command}));
        exec->write_stdin(typed_in);
        exec->close_stdin();
        auto code = exec->wait(10s);
        return code && *code == 3;
      },
      15s))
      << exec->err();
  EXPECT_TRUE(wait_until([&] { return exec->out().size() == 4321u; }, 5s)) << exec->out().size();

  // 2. bob: ssh -N -L to the service through the device; 300 bytes sent, 20 + 300 received.
  // (A free port taken by another process before ssh binds it makes ssh give up after it
  // attached: then the test tries another port, and that attempt leaves a channel-less
  // attachment, which the checks below allow.)
  std::unique_ptr<Process> forward;
  int fd = -1;
  int bob_attempts = 0;
  const std::string target = "127.0.0.1:" + std::to_string(service.port());
  for (int attempt = 0; attempt < 3 && fd < 0; ++attempt) {
    int local = free_port();
    std::vector<std::string> options{"-v", "-N",
                                     "-o", "ExitOnForwardFailure=yes",
                                     "-L", "127.0.0.1:" + std::to_string(local) + ":" + target};
    ++bob_attempts;
    forward = std::make_unique<Process>(operator_ssh_argv(relay, bob, kh, id, options));
    if (!forward->wait_for_output("Local forwarding listening on", 10s, true)) continue;
    wait_until([&] { return (fd = connect_tcp(local)) >= 0 || !forward->running(); }, 5s);
  }
  ASSERT_GE(fd, 0) << forward->err();
  EXPECT_EQ(read_exactly(fd, 20), kGreeting);
  const std::string payload(300, 'p');
  ASSERT_EQ(::send(fd, payload.data(), payload.size(), MSG_NOSIGNAL), 300);
  EXPECT_EQ(read_exactly(fd, 300), payload);
  ::close(fd);

  // The proxy channel ends with its TCP connection (bob stays attached): wait for its row.
  json rows;
  ASSERT_TRUE(wait_until(
      [&] {
        rows = relay.admin_json({"audit", "--session", id, "--kind", "channel.closed"});
        return rows.is_array() && rows.size() == 2;
      },
      5s))
      << rows.dump(2);

  // 3. alice: a private shell (`ID+own`), where she types a known line.
  std::unique_ptr<Process> shell;
  ASSERT_TRUE(wait_until(
      [&] {
        shell =
            std::make_unique<Process>(operator_ssh_argv(relay, alice, kh, id + "+own", {"-tt"}));
        return wait_until([&] { return !shell->out().empty() || !shell->running(); }, 8s) &&
               !shell->out().empty();
      },
      10s))
      << shell->err();
  const std::string typed = "echo OWN-$((6*7))\n";
  shell->write_stdin(typed);
  ASSERT_TRUE(shell->wait_for_output("OWN-42", 5s)) << shell->out();

  // 4. The admin kills the session while alice (shell) and bob (forward) are attached.
  auto killed = relay.admin({"session", "kill", id});
  ASSERT_EQ(killed.exit_code, 0) << killed.out << killed.err;
  EXPECT_NE(killed.out.find("Ended session " + spaced_session_id(id)), std::string::npos)
      << killed.out;
  EXPECT_TRUE(shell->wait(5s)) << shell->err();
  EXPECT_TRUE(forward->wait(5s)) << forward->err();
  const std::string admin = "admin:" + current_user();
  const std::string killed_reason = "killed by " + admin;

  // Wait until the store has everything: the session ended, every attachment and channel too.
  json story;
  ASSERT_TRUE(wait_until(
      [&] {
        story = relay.admin_json({"session", "show", id});
        if (!story.is_object() || story["ended"].is_null()) return false;
        for (const auto& a : story["attachments"]) {
          if (a["ended"].is_null()) return false;
          for (const auto& c : a["channels"])
            if (c["ended"].is_null()) return false;
        }
        rows = relay.admin_json({"audit", "--session", id, "--limit", "1000"});
        return !of_kind(rows, "session.ended").empty() &&
               of_kind(rows, "operator.detached").size() == story["attachments"].size();
      },
      5s))
      << story.dump(2);

  // ---- relay session show --json ---------------------------------------------------------
  EXPECT_EQ(story["id"], id);
  EXPECT_EQ(story["active"], false);
  EXPECT_EQ(story["kind"], "adhoc");
  EXPECT_TRUE(story["device"].is_null());
  EXPECT_EQ(story["end_reason"], killed_reason) << story.dump(2);

  const json& attachments = story["attachments"];
  // alice's exec and own shell, bob's forward (plus channel-less retries); by start.
  std::size_t alices = 0, bobs_attached = 0;
  for (const auto& a : attachments) (a["operator"] == "alice" ? alices : bobs_attached) += 1;
  EXPECT_EQ(alices, 2u) << story.dump(2);
  EXPECT_GE(bobs_attached, 1u);
  EXPECT_LE(bobs_attached, static_cast<std::size_t>(bob_attempts)) << story.dump(2);
  json alice_exec, alice_shell, bob_forward;
  for (const auto& a : attachments) {
    EXPECT_EQ(a["source_addr"], "127.0.0.1") << a.dump(2);
    EXPECT_FALSE(a["started"].get<std::string>().empty());
    EXPECT_LE(a["started"].get<std::string>(), a["ended"].get<std::string>());
    if (a["operator"] == "alice") {
      EXPECT_EQ(a["fingerprint"], alice.fingerprint);
      (a["mode"] == "own" ? alice_shell : alice_exec) = a;
    } else {
      ASSERT_EQ(a["operator"], "bob") << a.dump(2);
      EXPECT_EQ(a["fingerprint"], bob.fingerprint);
      EXPECT_EQ(a["mode"], "shared");
      if (!a["channels"].empty()) {
        EXPECT_TRUE(bob_forward.is_null()) << "two forward attachments: " << story.dump(2);
        bob_forward = a;
      } else {
        EXPECT_NE(a["end_reason"], killed_reason) << "a retry ended before the kill";
      }
    }
  }
  ASSERT_FALSE(alice_exec.is_null()) << story.dump(2);
  ASSERT_FALSE(alice_shell.is_null()) << story.dump(2);
  ASSERT_FALSE(bob_forward.is_null()) << story.dump(2);
  EXPECT_LT(alice_exec["id"].get<std::int64_t>(), bob_forward["id"].get<std::int64_t>());
  EXPECT_LT(bob_forward["id"].get<std::int64_t>(), alice_shell["id"].get<std::int64_t>());

  // alice's exec: left on her own (ssh closed), before the kill.
  EXPECT_EQ(alice_exec["mode"], "shared");
  EXPECT_FALSE(alice_exec["end_reason"].is_null());
  EXPECT_NE(alice_exec["end_reason"], killed_reason);
  ASSERT_EQ(alice_exec["channels"].size(), 1u) << alice_exec.dump(2);
  const json& ec = alice_exec["channels"][0];
  EXPECT_EQ(ec["kind"], "exec");
  EXPECT_EQ(ec["command"], command);
  EXPECT_EQ(ec["exit_status"], 3);
  EXPECT_TRUE(ec["exit_signal"].is_null());
  EXPECT_EQ(ec["bytes_in"], 777);    // operator -> device
  EXPECT_EQ(ec["bytes_out"], 4321);  // device -> operator
  EXPECT_LE(ec["started"].get<std::string>(), ec["ended"].get<std::string>());

  // bob's forward: a proxy channel to the service, the exact bytes each way; then the kill.
  EXPECT_EQ(bob_forward["end_reason"], killed_reason);
  ASSERT_EQ(bob_forward["channels"].size(), 1u) << bob_forward.dump(2);
  const json& pc = bob_forward["channels"][0];
  EXPECT_EQ(pc["kind"], "proxy");
  EXPECT_EQ(pc["target"], target);
  EXPECT_TRUE(pc["command"].is_null());
  EXPECT_TRUE(pc["exit_status"].is_null());
  EXPECT_EQ(pc["bytes_in"], 300);
  EXPECT_EQ(pc["bytes_out"], 320);
  EXPECT_LE(pc["started"].get<std::string>(), pc["ended"].get<std::string>());

  // alice's own shell: what she typed reached the device; the kill ended it.
  EXPECT_EQ(alice_shell["end_reason"], killed_reason);
  ASSERT_EQ(alice_shell["channels"].size(), 1u) << alice_shell.dump(2);
  const json& sc = alice_shell["channels"][0];
  EXPECT_EQ(sc["kind"], "shell");
  EXPECT_EQ(sc["target"], "own");
  EXPECT_EQ(sc["bytes_in"], static_cast<std::int64_t>(typed.size()));
  EXPECT_GE(sc["bytes_out"].get<std::int64_t>(), 6);  // at least "OWN-42"

  // Every event of the session is in the story.
  EXPECT_EQ(story["events_total"], rows.size());
  std::set<std::string> story_kinds;
  for (const auto& e : story["events"]) story_kinds.insert(e["kind"].get<std::string>());
  for (const char* kind :
       {"device.connected", "session.issued", "operator.attached", "consent.asked",
        "consent.answered", "channel.closed", "operator.detached", "session.killed",
        "session.ended", "recording.started"})
    EXPECT_TRUE(story_kinds.count(kind)) << kind << " missing from " << story.dump(2);
  // The own shell's recording names its attachment.
  auto recordings = of_kind(story["events"], "recording.started");
  bool own_recording = false;
  for (const auto& r : recordings)
    if (r["detail"].value("kind", "") == "own") {
      own_recording = true;
      EXPECT_EQ(attachment_of(r), alice_shell["id"]) << r.dump(2);
      EXPECT_EQ(r["operator"], "alice");
    }
  EXPECT_TRUE(own_recording) << story.dump(2);

  // ---- relay audit --json --session ID: the timeline -------------------------------------
  json timeline = relay.admin_json({"audit", "--session", id, "--reverse", "--limit", "1000"});
  ASSERT_EQ(timeline.size(), rows.size());
  {
    auto newest_first = ids_of(rows);
    std::reverse(newest_first.begin(), newest_first.end());
    EXPECT_EQ(ids_of(timeline), newest_first);
  }
  for (const auto& row : timeline) {
    EXPECT_EQ(row["session"], id) << row.dump();
    EXPECT_FALSE(row["time"].get<std::string>().empty());
  }
  auto at = [&](const std::string& kind, std::int64_t attachment = -2) {
    return position(timeline, [&](const json& r) {
      return r["kind"] == kind && (attachment == -2 || attachment_of(r) == attachment);
    });
  };
  const int connected = at("device.connected");
  const int issued = at("session.issued");
  const int killed_at = at("session.killed");
  const int ended = at("session.ended");
  ASSERT_GE(connected, 0);
  ASSERT_GE(issued, 0);
  ASSERT_GE(killed_at, 0);
  ASSERT_GE(ended, 0);
  EXPECT_EQ(of_kind(timeline, "session.issued").size(), 1u);
  EXPECT_EQ(of_kind(timeline, "session.ended").size(), 1u);
  EXPECT_EQ(of_kind(timeline, "session.killed").size(), 1u);
  EXPECT_LT(killed_at, ended);

  const json& dc = timeline[connected];
  EXPECT_EQ(dc["detail"]["source_addr"], "127.0.0.1");
  EXPECT_EQ(dc["detail"]["kind"], "adhoc");
  EXPECT_EQ(dc["detail"]["fingerprint"], story["fingerprint"]);
  const json& si = timeline[issued];
  EXPECT_EQ(si["detail"]["kind"], "adhoc");
  EXPECT_EQ(si["detail"]["source_addr"], "127.0.0.1");
  EXPECT_EQ(si["actor"], story["fingerprint"]);
  const json& sk = timeline[killed_at];
  EXPECT_EQ(sk["actor"], admin);
  EXPECT_EQ(sk["detail"]["by"], current_user());
  const json& se = timeline[ended];
  EXPECT_EQ(se["detail"]["reason"], killed_reason);
  EXPECT_NE(se["detail"]["reason"].get<std::string>().find("killed"), std::string::npos);

  // Per attachment: attached -> consent asked -> answered -> channel closed -> detached, all
  // between issued and ended, each with the attachment's fields.
  struct Expect {
    const json* attachment;
    const OperatorKey* op;
    std::string capability;
  };
  for (const Expect& x : {Expect{&alice_exec, &alice, "exec"}, Expect{&bob_forward, &bob, "proxy"},
                          Expect{&alice_shell, &alice, "shell"}}) {
    const json& a = *x.attachment;
    const std::int64_t aid = a["id"].get<std::int64_t>();
    SCOPED_TRACE("attachment " + std::to_string(aid) + " (" + x.op->name + ")");
    const int attached = at("operator.attached", aid);
    const int asked = at("consent.asked", aid);
    const int closed = at("channel.closed", aid);
    const int detached = at("operator.detached", aid);
    ASSERT_GE(attached, 0);
    ASSERT_GE(asked, 0);
    ASSERT_GE(closed, 0);
    ASSERT_GE(detached, 0);
    const int answered = position(timeline, [&](const json& r) {
      return r["kind"] == "consent.answered" && r["operator"] == x.op->name &&
             r["detail"]["capability"] == x.capability;
    });
    ASSERT_GE(answered, 0);
    EXPECT_LT(issued, attached);
    EXPECT_LT(attached, asked);
    EXPECT_LT(asked, answered);
    EXPECT_LT(answered, closed);
    EXPECT_LT(closed, detached);
    EXPECT_LT(detached, ended);

    for (int i : {attached, detached}) {
      const json& d = timeline[i]["detail"];
      EXPECT_EQ(timeline[i]["operator"], x.op->name);
      EXPECT_EQ(timeline[i]["actor"], x.op->name);
      EXPECT_EQ(d["fingerprint"], x.op->fingerprint);
      EXPECT_EQ(d["mode"], a["mode"]);
      EXPECT_EQ(d["source_addr"], "127.0.0.1");
    }
    const json& dd = timeline[detached]["detail"];
    EXPECT_EQ(dd["reason"], a["end_reason"]);
    EXPECT_TRUE(dd["duration_ms"].is_number());

    const json& q = timeline[asked]["detail"];
    EXPECT_EQ(timeline[asked]["operator"], x.op->name);
    EXPECT_EQ(q["capability"], x.capability);
    EXPECT_EQ(q["fingerprint"], x.op->fingerprint);
    const json& ans = timeline[answered]["detail"];
    EXPECT_EQ(ans["allow"], true);
    EXPECT_EQ(ans["fingerprint"], x.op->fingerprint);
    EXPECT_EQ(attachment_of(timeline[answered]), aid);

    // channel.closed carries what the channels row says.
    const json& ch = a["channels"][0];
    const json& cd = timeline[closed]["detail"];
    EXPECT_EQ(cd["channel"], ch["id"]);
    EXPECT_EQ(cd["kind"], ch["kind"]);
    EXPECT_EQ(cd["bytes_in"], ch["bytes_in"]);
    EXPECT_EQ(cd["bytes_out"], ch["bytes_out"]);
    EXPECT_EQ(cd["started"], ch["started"]);
    EXPECT_EQ(cd.value("target", ""),
              ch["target"].is_null() ? "" : ch["target"].get<std::string>());
    if (ch["kind"] == "exec") {
      EXPECT_EQ(cd["command"], command);
      EXPECT_EQ(cd["exit_status"], 3);
    } else {
      EXPECT_FALSE(cd.contains("command"));
    }
  }
  // The exec's consent names the command; the proxy's the destination.
  EXPECT_EQ(timeline[at("consent.asked", alice_exec["id"].get<std::int64_t>())]["detail"]["what"],
            command);
  EXPECT_EQ(timeline[at("consent.asked", bob_forward["id"].get<std::int64_t>())]["detail"]["what"],
            target);
  // alice's exec ended before the kill; the attachments the kill ended, after it.
  EXPECT_LT(at("operator.detached", alice_exec["id"].get<std::int64_t>()), killed_at);
  EXPECT_GT(at("operator.detached", bob_forward["id"].get<std::int64_t>()), killed_at);
  EXPECT_GT(at("operator.detached", alice_shell["id"].get<std::int64_t>()), killed_at);

  // ---- Filters ----------------------------------------------------------------------------
  // --kind channel: exactly this session's channel.* rows.
  json channel_rows = relay.admin_json({"audit", "--session", id, "--kind", "channel"});
  std::vector<std::int64_t> expected_channel_ids;
  for (const auto& row : rows)
    if (row["kind"].get<std::string>().rfind("channel.", 0) == 0)
      expected_channel_ids.push_back(row["id"].get<std::int64_t>());
  EXPECT_EQ(ids_of(channel_rows), expected_channel_ids);
  EXPECT_EQ(expected_channel_ids.size(), 3u);
  for (const auto& row : channel_rows) EXPECT_EQ(row["kind"], "channel.closed") << row.dump();

  // --operator bob: every row about bob and nothing else (there is only this session).
  json everything = relay.admin_json({"audit", "--limit", "1000"});
  std::vector<std::int64_t> bobs_expected;
  for (const auto& row : everything)
    if (row["operator"] == "bob") bobs_expected.push_back(row["id"].get<std::int64_t>());
  json bobs = relay.admin_json({"audit", "--operator", "bob"});
  EXPECT_EQ(ids_of(bobs), bobs_expected);
  std::set<std::string> bob_kinds;
  for (const auto& row : bobs) {
    EXPECT_EQ(row["operator"], "bob") << row.dump();
    bob_kinds.insert(row["kind"].get<std::string>());
  }
  for (const char* kind : {"operator.attached", "consent.asked", "consent.answered",
                           "channel.closed", "operator.detached"})
    EXPECT_TRUE(bob_kinds.count(kind)) << kind << " missing from " << bobs.dump(2);
  json bobs_proxy = relay.admin_json({"audit", "--operator", "bob", "--kind", "channel"});
  ASSERT_EQ(bobs_proxy.size(), 1u) << bobs_proxy.dump(2);
  EXPECT_EQ(bobs_proxy[0]["detail"]["kind"], "proxy");
  EXPECT_EQ(bobs_proxy[0]["detail"]["bytes_in"], 300);
  EXPECT_EQ(bobs_proxy[0]["detail"]["bytes_out"], 320);

  // Paging: --limit 2 --page 2 is rows 3 and 4 of the full list, newest first or oldest first.
  ASSERT_GE(rows.size(), 6u);
  json page2 = relay.admin_json({"audit", "--session", id, "--limit", "2", "--page", "2"});
  EXPECT_EQ(ids_of(page2), (std::vector<std::int64_t>{rows[2]["id"].get<std::int64_t>(),
                                                      rows[3]["id"].get<std::int64_t>()}));
  json page2r =
      relay.admin_json({"audit", "--session", id, "--limit", "2", "--page", "2", "--reverse"});
  EXPECT_EQ(ids_of(page2r), (std::vector<std::int64_t>{timeline[2]["id"].get<std::int64_t>(),
                                                       timeline[3]["id"].get<std::int64_t>()}));
  const std::size_t last_page = (rows.size() + 1) / 2;
  json tail = relay.admin_json(
      {"audit", "--session", id, "--limit", "2", "--page", std::to_string(last_page)});
  EXPECT_EQ(tail.back()["id"], rows.back()["id"]);
  EXPECT_TRUE(relay
                  .admin_json({"audit", "--session", id, "--limit", "2", "--page",
                               std::to_string(last_page + 1)})
                  .empty());
}

// A forward to a device without the agent (`ssh -R` services) is a `service` channel with the
// exact bytes each way.
TEST(AuditStory, AgentlessForwardIsAServiceChannel) {
  TempDir tmp;
  EchoService service;  // "RFB 003.008\n", then "echo:" + each chunk
  Relay relay(tmp / "relay");
  auto alice = register_operator(relay, tmp.path(), "alice");
  auto device_key = make_operator_key(tmp.path(), "device");
  Process device({"/usr/bin/ssh",
                  "-F",
                  "/dev/null",
                  "-p",
                  std::to_string(relay.port()),
                  "-i",
                  device_key.key.string(),
                  "-o",
                  "IdentitiesOnly=yes",
                  "-o",
                  "StrictHostKeyChecking=no",
                  "-o",
                  "UserKnownHostsFile=" + (tmp / "device_known_hosts").string(),
                  "-o",
                  "BatchMode=yes",
                  "-o",
                  "ExitOnForwardFailure=yes",
                  "-N",
                  "-R",
                  "screen:5900:127.0.0.1:" + std::to_string(service.port()),
                  "device@127.0.0.1"});
  auto spaced = device.wait_for_match(R"(switchboard: session ID (\d{3} \d{3} \d{3}))", 10s, true);
  ASSERT_TRUE(spaced) << device.err();
  const std::string id = digits_only(*spaced);
  ASSERT_TRUE(relay.process().wait_for_output("service screen:5900 registered", 10s, true));

  std::unique_ptr<Process> forward;
  std::string got = "(cannot connect)";
  for (int attempt = 0; attempt < 5 && got == "(cannot connect)"; ++attempt) {
    int local = free_port();
    forward = std::make_unique<Process>(
        operator_ssh_argv(relay, alice, tmp / "kh", id,
                          {"-v", "-N", "-o", "ExitOnForwardFailure=yes", "-L",
                           "127.0.0.1:" + std::to_string(local) + ":screen:5900"}));
    if (!forward->wait_for_output("Local forwarding listening on", 5s, true)) continue;
    wait_until([&] { return (got = talk_to_echo(local)) != "(cannot connect)"; }, 5s);
  }
  ASSERT_EQ(got, "RFB 003.008\necho:ping\n") << forward->err();
  forward->signal(SIGTERM);
  forward->wait(5s);

  json closed;
  ASSERT_TRUE(wait_until([&] {
    closed = relay.admin_json({"audit", "--session", id, "--kind", "channel.closed"});
    return closed.is_array() && closed.size() == 1;
  })) << closed.dump(2);
  const json& d = closed[0]["detail"];
  EXPECT_EQ(d["kind"], "service");
  EXPECT_EQ(d["target"], "screen:5900");
  EXPECT_EQ(d["bytes_in"], 5);    // "ping\n"
  EXPECT_EQ(d["bytes_out"], 22);  // banner + "echo:ping\n"
  EXPECT_EQ(closed[0]["operator"], "alice");

  json story = relay.admin_json({"session", "show", id});
  json channel;
  for (const auto& a : story["attachments"])
    for (const auto& c : a["channels"]) channel = c;
  ASSERT_FALSE(channel.is_null()) << story.dump(2);
  EXPECT_EQ(channel["kind"], "service");
  EXPECT_EQ(channel["target"], "screen:5900");
  EXPECT_EQ(channel["bytes_in"], 5);
  EXPECT_EQ(channel["bytes_out"], 22);
}

}  // namespace
}  // namespace sb::e2e
