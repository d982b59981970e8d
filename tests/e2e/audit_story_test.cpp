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
#include "operator_support.hpp"
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

std::int64_t id_of(const json& row) {
  return row["id"].get<std::int64_t>();
}

std::vector<std::int64_t> ids_of(const json& rows) {
  std::vector<std::int64_t> out;
  for (const auto& row : rows) out.push_back(id_of(row));
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

// The story, step by step: what happens (alice's exec, bob's forward, alice's own shell, the
// admin's kill), then what the admin reads back. Each step records what the later ones check.
class AuditStory : public OperatorTest {
 protected:
  // 1. alice: an exec with 777 bytes on stdin, 4321 bytes out, exit status 3.
  void alice_runs_an_exec() {
    auto r = exec("alice", kCommand, {.input = std::string(777, 'i')});
    ASSERT_EQ(r.exit_code, 3) << r.err;
    EXPECT_EQ(r.out.size(), 4321u);
  }

  // 2. bob: ssh -N -L to the service through the device; 300 bytes sent, 20 + 300 received.
  // (A port race makes the test try another port: that attempt leaves a channel-less
  // attachment, which the checks allow.)
  void bob_moves_bytes_through_a_forward() {
    target_ = "127.0.0.1:" + std::to_string(service_.port());
    auto forward = connect_through_forward("bob", target_);
    forward_ = std::move(forward.ssh);
    bob_attempts_ = forward.attempts;
    const int fd = forward.fd;
    ASSERT_GE(fd, 0) << forward_->err();
    EXPECT_EQ(read_exactly(fd, 20), kGreeting);
    const std::string payload(300, 'p');
    ASSERT_EQ(::send(fd, payload.data(), payload.size(), MSG_NOSIGNAL), 300);
    EXPECT_EQ(read_exactly(fd, 300), payload);
    ::close(fd);

    // The proxy channel ends with its TCP connection (bob stays attached): wait for its row.
    json rows;
    ASSERT_TRUE(wait_until(
        [&] {
          rows = relay().admin_json({"audit", "--session", id_, "--kind", "channel.closed"});
          return rows.is_array() && rows.size() == 2;
        },
        5s))
        << rows.dump(2);
  }

  // 3. alice: a private shell (`ID+own`), where she types a known line.
  void alice_opens_her_own_shell() {
    shell_ = start_operator_process(
        ssh("alice", id_ + "+own", {"-tt"}), [](Process& t) { return !t.out().empty(); }, 8s);
    ASSERT_FALSE(shell_->out().empty()) << shell_->err();
    shell_->write_stdin(kTyped);
    ASSERT_TRUE(shell_->wait_for_output("OWN-42", 5s)) << shell_->out();
  }

  // 4. The admin kills the session while alice (shell) and bob (forward) are attached.
  void the_admin_kills_the_session() {
    auto killed = relay().admin({"session", "kill", id_});
    ASSERT_EQ(killed.exit_code, 0) << killed.out << killed.err;
    EXPECT_NE(killed.out.find("Ended session " + spaced_session_id(id_)), std::string::npos)
        << killed.out;
    EXPECT_TRUE(shell_->wait(5s)) << shell_->err();
    EXPECT_TRUE(forward_->wait(5s)) << forward_->err();
  }

  // The store writes behind a queue: wait until it has the session ended, and every attachment
  // and channel too. Reads the story (`session show`) and the rows (`audit`, newest first).
  void wait_until_the_store_has_everything() {
    ASSERT_TRUE(wait_until(
        [&] {
          story_ = relay().admin_json({"session", "show", id_});
          if (!story_.is_object() || story_["ended"].is_null()) return false;
          for (const auto& a : story_["attachments"]) {
            if (a["ended"].is_null()) return false;
            for (const auto& c : a["channels"])
              if (c["ended"].is_null()) return false;
          }
          rows_ = relay().admin_json({"audit", "--session", id_, "--limit", "1000"});
          return !of_kind(rows_, "session.ended").empty() &&
                 of_kind(rows_, "operator.detached").size() == story_["attachments"].size();
        },
        5s))
        << story_.dump(2);
  }

  // ---- relay session show --json -------------------------------------------------------

  void check_the_session() {
    EXPECT_EQ(story_["id"], id_);
    EXPECT_EQ(story_["active"], false);
    EXPECT_EQ(story_["kind"], "adhoc");
    EXPECT_TRUE(story_["device"].is_null());
    EXPECT_EQ(story_["end_reason"], killed_reason()) << story_.dump(2);
  }

  // alice's exec and own shell, bob's forward (plus channel-less retries), in the order they
  // started.
  void find_the_attachments() {
    const json& attachments = story_["attachments"];
    std::size_t alices = 0, bobs_attached = 0;
    for (const auto& a : attachments) (a["operator"] == "alice" ? alices : bobs_attached) += 1;
    EXPECT_EQ(alices, 2u) << story_.dump(2);
    EXPECT_GE(bobs_attached, 1u);
    EXPECT_LE(bobs_attached, static_cast<std::size_t>(bob_attempts_)) << story_.dump(2);
    for (const auto& a : attachments) {
      EXPECT_EQ(a["source_addr"], "127.0.0.1") << a.dump(2);
      EXPECT_FALSE(a["started"].get<std::string>().empty());
      EXPECT_LE(a["started"].get<std::string>(), a["ended"].get<std::string>());
      if (a["operator"] == "alice") {
        EXPECT_EQ(a["fingerprint"], op("alice").fingerprint);
        (a["mode"] == "own" ? alice_shell_ : alice_exec_) = a;
      } else {
        ASSERT_EQ(a["operator"], "bob") << a.dump(2);
        EXPECT_EQ(a["fingerprint"], op("bob").fingerprint);
        EXPECT_EQ(a["mode"], "shared");
        if (!a["channels"].empty()) {
          EXPECT_TRUE(bob_forward_.is_null()) << "two forward attachments: " << story_.dump(2);
          bob_forward_ = a;
        } else {
          EXPECT_NE(a["end_reason"], killed_reason()) << "a retry ended before the kill";
        }
      }
    }
    ASSERT_FALSE(alice_exec_.is_null()) << story_.dump(2);
    ASSERT_FALSE(alice_shell_.is_null()) << story_.dump(2);
    ASSERT_FALSE(bob_forward_.is_null()) << story_.dump(2);
    EXPECT_LT(id_of(alice_exec_), id_of(bob_forward_));
    EXPECT_LT(id_of(bob_forward_), id_of(alice_shell_));
  }

  // alice's exec: left on her own (ssh closed), before the kill.
  void check_alice_exec() {
    EXPECT_EQ(alice_exec_["mode"], "shared");
    EXPECT_FALSE(alice_exec_["end_reason"].is_null());
    EXPECT_NE(alice_exec_["end_reason"], killed_reason());
    ASSERT_EQ(alice_exec_["channels"].size(), 1u) << alice_exec_.dump(2);
    const json& ec = alice_exec_["channels"][0];
    EXPECT_EQ(ec["kind"], "exec");
    EXPECT_EQ(ec["command"], kCommand);
    EXPECT_EQ(ec["exit_status"], 3);
    EXPECT_TRUE(ec["exit_signal"].is_null());
    EXPECT_EQ(ec["bytes_in"], 777);    // operator -> device
    EXPECT_EQ(ec["bytes_out"], 4321);  // device -> operator
    EXPECT_LE(ec["started"].get<std::string>(), ec["ended"].get<std::string>());
  }

  // bob's forward: a proxy channel to the service, the exact bytes each way; then the kill.
  void check_bob_forward() {
    EXPECT_EQ(bob_forward_["end_reason"], killed_reason());
    ASSERT_EQ(bob_forward_["channels"].size(), 1u) << bob_forward_.dump(2);
    const json& pc = bob_forward_["channels"][0];
    EXPECT_EQ(pc["kind"], "proxy");
    EXPECT_EQ(pc["target"], target_);
    EXPECT_TRUE(pc["command"].is_null());
    EXPECT_TRUE(pc["exit_status"].is_null());
    EXPECT_EQ(pc["bytes_in"], 300);
    EXPECT_EQ(pc["bytes_out"], 320);
    EXPECT_LE(pc["started"].get<std::string>(), pc["ended"].get<std::string>());
  }

  // alice's own shell: what she typed reached the device; the kill ended it.
  void check_alice_shell() {
    EXPECT_EQ(alice_shell_["end_reason"], killed_reason());
    ASSERT_EQ(alice_shell_["channels"].size(), 1u) << alice_shell_.dump(2);
    const json& sc = alice_shell_["channels"][0];
    EXPECT_EQ(sc["kind"], "shell");
    EXPECT_EQ(sc["target"], "own");
    EXPECT_EQ(sc["bytes_in"], static_cast<std::int64_t>(std::string(kTyped).size()));
    EXPECT_GE(sc["bytes_out"].get<std::int64_t>(), 6);  // at least "OWN-42"
  }

  // Every event of the session is in the story, and the own shell's recording names its
  // attachment.
  void check_the_story_has_every_event() {
    EXPECT_EQ(story_["events_total"], rows_.size());
    std::set<std::string> story_kinds;
    for (const auto& e : story_["events"]) story_kinds.insert(e["kind"].get<std::string>());
    for (const char* kind :
         {"device.connected", "session.issued", "operator.attached", "consent.asked",
          "consent.answered", "channel.closed", "operator.detached", "session.killed",
          "session.ended", "recording.started"})
      EXPECT_TRUE(story_kinds.count(kind)) << kind << " missing from " << story_.dump(2);
    bool own_recording = false;
    for (const auto& r : of_kind(story_["events"], "recording.started"))
      if (r["detail"].value("kind", "") == "own") {
        own_recording = true;
        EXPECT_EQ(attachment_of(r), alice_shell_["id"]) << r.dump(2);
        EXPECT_EQ(r["operator"], "alice");
      }
    EXPECT_TRUE(own_recording) << story_.dump(2);
  }

  // ---- relay audit --json --session ID: the timeline -----------------------------------

  // The same rows oldest first, every one about this session.
  void read_the_timeline() {
    timeline_ = relay().admin_json({"audit", "--session", id_, "--reverse", "--limit", "1000"});
    ASSERT_EQ(timeline_.size(), rows_.size());
    auto newest_first = ids_of(rows_);
    std::reverse(newest_first.begin(), newest_first.end());
    EXPECT_EQ(ids_of(timeline_), newest_first);
    for (const auto& row : timeline_) {
      EXPECT_EQ(row["session"], id_) << row.dump();
      EXPECT_FALSE(row["time"].get<std::string>().empty());
    }
  }

  // Position in the timeline of the first row of a kind (and attachment); -1 if none.
  int at(const std::string& kind, std::int64_t attachment = -2) const {
    return position(timeline_, [&](const json& r) {
      return r["kind"] == kind && (attachment == -2 || attachment_of(r) == attachment);
    });
  }

  // The session's own events: connected, issued once, killed once by the admin, then ended.
  void check_the_session_events() {
    const int connected = at("device.connected");
    const int issued = at("session.issued");
    const int killed_at = at("session.killed");
    const int ended = at("session.ended");
    ASSERT_GE(connected, 0);
    ASSERT_GE(issued, 0);
    ASSERT_GE(killed_at, 0);
    ASSERT_GE(ended, 0);
    EXPECT_EQ(of_kind(timeline_, "session.issued").size(), 1u);
    EXPECT_EQ(of_kind(timeline_, "session.ended").size(), 1u);
    EXPECT_EQ(of_kind(timeline_, "session.killed").size(), 1u);
    EXPECT_LT(killed_at, ended);

    const json& dc = timeline_[connected];
    EXPECT_EQ(dc["detail"]["source_addr"], "127.0.0.1");
    EXPECT_EQ(dc["detail"]["kind"], "adhoc");
    EXPECT_EQ(dc["detail"]["fingerprint"], story_["fingerprint"]);
    const json& si = timeline_[issued];
    EXPECT_EQ(si["detail"]["kind"], "adhoc");
    EXPECT_EQ(si["detail"]["source_addr"], "127.0.0.1");
    EXPECT_EQ(si["actor"], story_["fingerprint"]);
    const json& sk = timeline_[killed_at];
    EXPECT_EQ(sk["actor"], admin());
    EXPECT_EQ(sk["detail"]["by"], current_user());
    const json& se = timeline_[ended];
    EXPECT_EQ(se["detail"]["reason"], killed_reason());
    EXPECT_NE(se["detail"]["reason"].get<std::string>().find("killed"), std::string::npos);
  }

  // One attachment: attached -> consent asked -> answered -> channel closed -> detached, all
  // between issued and ended, each with the attachment's fields.
  void check_attachment_events(const json& a, const std::string& name,
                               const std::string& capability) {
    const OperatorKey& key = op(name);
    const std::int64_t aid = id_of(a);
    SCOPED_TRACE("attachment " + std::to_string(aid) + " (" + name + ")");
    const int attached = at("operator.attached", aid);
    const int asked = at("consent.asked", aid);
    const int closed = at("channel.closed", aid);
    const int detached = at("operator.detached", aid);
    ASSERT_GE(attached, 0);
    ASSERT_GE(asked, 0);
    ASSERT_GE(closed, 0);
    ASSERT_GE(detached, 0);
    const int answered = position(timeline_, [&](const json& r) {
      return r["kind"] == "consent.answered" && r["operator"] == name &&
             r["detail"]["capability"] == capability;
    });
    ASSERT_GE(answered, 0);
    EXPECT_LT(at("session.issued"), attached);
    EXPECT_LT(attached, asked);
    EXPECT_LT(asked, answered);
    EXPECT_LT(answered, closed);
    EXPECT_LT(closed, detached);
    EXPECT_LT(detached, at("session.ended"));

    for (int i : {attached, detached}) {
      const json& d = timeline_[i]["detail"];
      EXPECT_EQ(timeline_[i]["operator"], name);
      EXPECT_EQ(timeline_[i]["actor"], name);
      EXPECT_EQ(d["fingerprint"], key.fingerprint);
      EXPECT_EQ(d["mode"], a["mode"]);
      EXPECT_EQ(d["source_addr"], "127.0.0.1");
    }
    const json& dd = timeline_[detached]["detail"];
    EXPECT_EQ(dd["reason"], a["end_reason"]);
    EXPECT_TRUE(dd["duration_ms"].is_number());

    const json& q = timeline_[asked]["detail"];
    EXPECT_EQ(timeline_[asked]["operator"], name);
    EXPECT_EQ(q["capability"], capability);
    EXPECT_EQ(q["fingerprint"], key.fingerprint);
    const json& ans = timeline_[answered]["detail"];
    EXPECT_EQ(ans["allow"], true);
    EXPECT_EQ(ans["fingerprint"], key.fingerprint);
    EXPECT_EQ(attachment_of(timeline_[answered]), aid);
    check_channel_closed_matches(timeline_[closed]["detail"], a["channels"][0]);
  }

  // channel.closed carries what the channels row says.
  static void check_channel_closed_matches(const json& cd, const json& ch) {
    EXPECT_EQ(cd["channel"], ch["id"]);
    EXPECT_EQ(cd["kind"], ch["kind"]);
    EXPECT_EQ(cd["bytes_in"], ch["bytes_in"]);
    EXPECT_EQ(cd["bytes_out"], ch["bytes_out"]);
    EXPECT_EQ(cd["started"], ch["started"]);
    EXPECT_EQ(cd.value("target", ""),
              ch["target"].is_null() ? "" : ch["target"].get<std::string>());
    if (ch["kind"] == "exec") {
      EXPECT_EQ(cd["command"], kCommand);
      EXPECT_EQ(cd["exit_status"], 3);
    } else {
      EXPECT_FALSE(cd.contains("command"));
    }
  }

  // The exec's consent names the command, the proxy's the destination; alice's exec ended
  // before the kill, the attachments the kill ended after it.
  void check_consent_and_kill_order() {
    EXPECT_EQ(timeline_[at("consent.asked", id_of(alice_exec_))]["detail"]["what"], kCommand);
    EXPECT_EQ(timeline_[at("consent.asked", id_of(bob_forward_))]["detail"]["what"], target_);
    const int killed_at = at("session.killed");
    EXPECT_LT(at("operator.detached", id_of(alice_exec_)), killed_at);
    EXPECT_GT(at("operator.detached", id_of(bob_forward_)), killed_at);
    EXPECT_GT(at("operator.detached", id_of(alice_shell_)), killed_at);
  }

  // ---- Filters and paging ----------------------------------------------------------------

  // --kind channel: exactly this session's channel.* rows.
  void check_the_kind_filter() {
    json channel_rows = relay().admin_json({"audit", "--session", id_, "--kind", "channel"});
    std::vector<std::int64_t> expected_channel_ids;
    for (const auto& row : rows_)
      if (row["kind"].get<std::string>().rfind("channel.", 0) == 0)
        expected_channel_ids.push_back(row["id"].get<std::int64_t>());
    EXPECT_EQ(ids_of(channel_rows), expected_channel_ids);
    EXPECT_EQ(expected_channel_ids.size(), 3u);
    for (const auto& row : channel_rows) EXPECT_EQ(row["kind"], "channel.closed") << row.dump();
  }

  // --operator bob: every row about bob and nothing else (there is only this session).
  void check_the_operator_filter() {
    json everything = relay().admin_json({"audit", "--limit", "1000"});
    std::vector<std::int64_t> bobs_expected;
    for (const auto& row : everything)
      if (row["operator"] == "bob") bobs_expected.push_back(row["id"].get<std::int64_t>());
    json bobs = relay().admin_json({"audit", "--operator", "bob"});
    EXPECT_EQ(ids_of(bobs), bobs_expected);
    std::set<std::string> bob_kinds;
    for (const auto& row : bobs) {
      EXPECT_EQ(row["operator"], "bob") << row.dump();
      bob_kinds.insert(row["kind"].get<std::string>());
    }
    for (const char* kind : {"operator.attached", "consent.asked", "consent.answered",
                             "channel.closed", "operator.detached"})
      EXPECT_TRUE(bob_kinds.count(kind)) << kind << " missing from " << bobs.dump(2);
    json bobs_proxy = relay().admin_json({"audit", "--operator", "bob", "--kind", "channel"});
    ASSERT_EQ(bobs_proxy.size(), 1u) << bobs_proxy.dump(2);
    EXPECT_EQ(bobs_proxy[0]["detail"]["kind"], "proxy");
    EXPECT_EQ(bobs_proxy[0]["detail"]["bytes_in"], 300);
    EXPECT_EQ(bobs_proxy[0]["detail"]["bytes_out"], 320);
  }

  // --limit 2 --page 2 is rows 3 and 4 of the full list, newest first or oldest first.
  void check_paging() {
    ASSERT_GE(rows_.size(), 6u);
    json page2 = relay().admin_json({"audit", "--session", id_, "--limit", "2", "--page", "2"});
    EXPECT_EQ(ids_of(page2), (std::vector<std::int64_t>{id_of(rows_[2]), id_of(rows_[3])}));
    json page2r =
        relay().admin_json({"audit", "--session", id_, "--limit", "2", "--page", "2", "--reverse"});
    EXPECT_EQ(ids_of(page2r),
              (std::vector<std::int64_t>{id_of(timeline_[2]), id_of(timeline_[3])}));
    const std::size_t last_page = (rows_.size() + 1) / 2;
    json tail = relay().admin_json(
        {"audit", "--session", id_, "--limit", "2", "--page", std::to_string(last_page)});
    EXPECT_EQ(tail.back()["id"], rows_.back()["id"]);
    EXPECT_TRUE(relay()
                    .admin_json({"audit", "--session", id_, "--limit", "2", "--page",
                                 std::to_string(last_page + 1)})
                    .empty());
  }

  static std::string admin() { return "admin:" + current_user(); }
  static std::string killed_reason() { return "killed by " + admin(); }

  static constexpr const char* kCommand = "cat >/dev/null; head -c 4321 /dev/zero; exit 3";
  static constexpr const char* kTyped = "echo OWN-$((6*7))\n";
  EchoService service_{kGreeting, ""};
  std::string target_;  // the service's address, as bob's forward names it
  int bob_attempts_ = 0;
  std::unique_ptr<Process> forward_, shell_;
  json story_;                                   // relay session show --json
  json rows_;                                    // relay audit --json --session ID, newest first
  json timeline_;                                // the same, oldest first
  json alice_exec_, bob_forward_, alice_shell_;  // their attachments in the story
};

TEST_F(AuditStory, TwoOperatorsExecProxyAndKillAreAllInTheAudit) {
  start_relay({"alice", "bob"});
  start_adhoc_agent({"--shell", "/bin/sh", "--allow-proxy", "127.0.0.0/8"});

  ASSERT_NO_FATAL_FAILURE(alice_runs_an_exec());
  ASSERT_NO_FATAL_FAILURE(bob_moves_bytes_through_a_forward());
  ASSERT_NO_FATAL_FAILURE(alice_opens_her_own_shell());
  ASSERT_NO_FATAL_FAILURE(the_admin_kills_the_session());
  ASSERT_NO_FATAL_FAILURE(wait_until_the_store_has_everything());

  // What `relay session show` tells.
  check_the_session();
  ASSERT_NO_FATAL_FAILURE(find_the_attachments());
  ASSERT_NO_FATAL_FAILURE(check_alice_exec());
  ASSERT_NO_FATAL_FAILURE(check_bob_forward());
  ASSERT_NO_FATAL_FAILURE(check_alice_shell());
  check_the_story_has_every_event();

  // What `relay audit --session` tells, in order.
  ASSERT_NO_FATAL_FAILURE(read_the_timeline());
  ASSERT_NO_FATAL_FAILURE(check_the_session_events());
  ASSERT_NO_FATAL_FAILURE(check_attachment_events(alice_exec_, "alice", "exec"));
  ASSERT_NO_FATAL_FAILURE(check_attachment_events(bob_forward_, "bob", "proxy"));
  ASSERT_NO_FATAL_FAILURE(check_attachment_events(alice_shell_, "alice", "shell"));
  check_consent_and_kill_order();

  // Its filters and pages.
  check_the_kind_filter();
  check_the_operator_filter();
  check_paging();
}

// A forward to a device without the agent (`ssh -R` services) is a `service` channel with the
// exact bytes each way.
TEST_F(AuditStory, AgentlessForwardIsAServiceChannel) {
  EchoService service;  // "RFB 003.008\n", then "echo:" + each chunk
  start_relay({"alice"});
  auto device_key = make_operator_key(tmp_.path(), "device");
  Process device(agentless_device_argv(
      relay(), device_key, tmp_ / "device_known_hosts",
      {"-N", "-R", "screen:5900:127.0.0.1:" + std::to_string(service.port())}));
  auto spaced = device.wait_for_match(kAgentlessBannerRegex, 10s, true);
  ASSERT_TRUE(spaced) << device.err();
  const std::string id = digits_only(*spaced);
  ASSERT_TRUE(relay().process().wait_for_output("service screen:5900 registered", 10s, true));

  std::unique_ptr<Process> forward;
  std::string got = "(cannot connect)";
  for (int attempt = 0; attempt < 5 && got == "(cannot connect)"; ++attempt) {
    int local = free_port();
    forward =
        std::make_unique<Process>(ssh("alice", id,
                                      {"-v", "-N", "-o", "ExitOnForwardFailure=yes", "-L",
                                       "127.0.0.1:" + std::to_string(local) + ":screen:5900"}));
    if (!forward->wait_for_output(kForwardListening, 5s, true)) continue;
    wait_until([&] { return (got = talk_to_echo(local)) != "(cannot connect)"; }, 5s);
  }
  ASSERT_EQ(got, "RFB 003.008\necho:ping\n") << forward->err();
  forward->signal(SIGTERM);
  forward->wait(5s);

  json closed;
  ASSERT_TRUE(wait_until([&] {
    closed = relay().admin_json({"audit", "--session", id, "--kind", "channel.closed"});
    return closed.is_array() && closed.size() == 1;
  })) << closed.dump(2);
  const json& d = closed[0]["detail"];
  EXPECT_EQ(d["kind"], "service");
  EXPECT_EQ(d["target"], "screen:5900");
  EXPECT_EQ(d["bytes_in"], 5);    // "ping\n"
  EXPECT_EQ(d["bytes_out"], 22);  // banner + "echo:ping\n"
  EXPECT_EQ(closed[0]["operator"], "alice");

  json story = relay().admin_json({"session", "show", id});
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
