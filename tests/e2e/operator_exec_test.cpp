// Operators, end to end with OpenSSH `ssh` and operator-cli as clients: one-off commands with
// their output and exit code, who may attach (registered keys, grants, consent), and the uniform
// answer for sessions that are unknown, ended or not permitted.
#include <gtest/gtest.h>
#include <signal.h>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class OperatorExec : public OperatorTest {};
class OperatorConsent : public OperatorTest {};
class OperatorEnrolled : public OperatorTest {};

// ---- Tests ---------------------------------------------------------------------------------

TEST_F(OperatorExec, OpenSshExecGivesOutputStderrAndExitCode) {
  start_device({"alice"});

  auto r = exec("alice", "echo out-$((40+2)); echo err-$((40+3)) >&2; exit 3");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_EQ(r.out, "out-42\n");
  EXPECT_NE(r.err.find("err-43"), std::string::npos) << r.err;

  // The device's user was asked, with the operator's name, key fingerprint and the command.
  auto prompt = agent().wait_for_match(kConsentPromptRegex, 1s);
  ASSERT_TRUE(prompt) << agent().out();
  EXPECT_EQ(*prompt, "alice");
  auto asked = consent().full_questions();
  ASSERT_EQ(asked.size(), 1u) << agent().out();
  EXPECT_EQ(asked[0], "alice (" + op("alice").fingerprint +
                          ") asks to run a command: echo out-$((40+2)); echo err-$((40+3)) >&2; "
                          "exit 3");

  // The session ID may be written with dashes or spaces.
  std::string dashed = id_.substr(0, 3) + "-" + id_.substr(3, 3) + "-" + id_.substr(6, 3);
  auto d = run_operator_ssh(ssh("alice", dashed, {}, {"echo dashed; exit 0"}));
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(d.out, "dashed\n");
  auto s = run_operator_ssh(ssh("alice", spaced_session_id(id_), {}, {"exit 42"}));
  EXPECT_EQ(s.exit_code, 42) << s.err;

  // stdin reaches the command, and its EOF ends it.
  auto upper = exec("alice", "tr a-z A-Z", {.input = "hello through the relay\n", .timeout = 15s});
  EXPECT_EQ(upper.exit_code, 0) << upper.err;
  EXPECT_EQ(upper.out, "HELLO THROUGH THE RELAY\n");
}

TEST_F(OperatorExec, OperatorCliExecQuotesArgumentsAndReturnsExitCode) {
  start_device({"alice"});

  auto cli = [&](const std::string& session, std::vector<std::string> command) {
    auto argv = operator_cli("alice", {"exec", session});
    argv.push_back("--");
    argv.insert(argv.end(), command.begin(), command.end());
    return run_operator_ssh(argv);
  };

  // Arguments arrive as the operator wrote them (spaces, quotes, $), one word each.
  auto words = cli(id_, {"printf", "[%s]", "a b", "it's", "$HOME", "*"});
  EXPECT_EQ(words.exit_code, 0) << words.err;
  EXPECT_EQ(words.out, "[a b][it's][$HOME][*]");

  // The remote exit code is operator-cli's own; stderr arrives on stderr.
  auto coded = cli(spaced_session_id(id_), {"sh", "-c", "echo out; echo err >&2; exit 7"});
  EXPECT_EQ(coded.exit_code, 7) << coded.err;
  EXPECT_EQ(coded.out, "out\n");
  EXPECT_NE(coded.err.find("err"), std::string::npos) << coded.err;

  // The relay's host key was pinned in the given known_hosts file.
  auto pinned = run({"/usr/bin/ssh-keygen", "-F", "[127.0.0.1]:" + std::to_string(relay().port()),
                     "-f", known_hosts_.string()});
  EXPECT_EQ(pinned.exit_code, 0) << pinned.out << pinned.err;
}

TEST_F(OperatorExec, UnregisteredOrRemovedKeyIsRefused) {
  start_device({"alice"});
  auto mallory = make_operator_key(tmp_.path(), "mallory");  // never registered

  auto r = run(operator_ssh_argv(relay(), mallory, known_hosts_, id_, {}, {"echo should-not-run"}));
  EXPECT_EQ(r.exit_code, 255) << r.out << r.err;
  EXPECT_NE(r.err.find("Permission denied (publickey)"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("should-not-run"), std::string::npos);

  // alice gets in; once her key is removed, she is refused like any unknown key.
  auto ok = exec("alice", "echo alice-in");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "alice-in\n");
  auto removed = relay().admin({"operator", "remove", "alice"});
  EXPECT_EQ(removed.exit_code, 0) << removed.out << removed.err;
  RunResult after;
  EXPECT_TRUE(wait_until(
      [&] {
        after = run(ssh("alice", id_, {}, {"echo alice-again"}));
        return ssh_auth_refused(after);
      },
      10s))
      << after.exit_code << " " << after.out << after.err;

  // mallory never reached the device's user.
  EXPECT_FALSE(consent().full_questions().empty()) << agent().out();
  for (const auto& q : consent().full_questions()) EXPECT_TRUE(q.starts_with("alice (")) << q;
  EXPECT_EQ(agent().out().find("mallory"), std::string::npos) << agent().out();
  EXPECT_EQ(agent().out().find(mallory.fingerprint), std::string::npos) << agent().out();
}

// A registered key is accepted at every attempt, not only most of the time.
TEST_F(OperatorExec, RegisteredKeyIsAcceptedAtEveryAttempt) {
  start_relay({"bob"});
  std::string token = create_enroll_token(relay(), "web-01");
  ASSERT_EQ(relay().admin({"grant", "add", "bob", "web-01"}).exit_code, 0);
  start_enrolled_agent(token);
  // Once the relay has loaded the key and the grant...
  RunResult first;
  ASSERT_TRUE(wait_until(
      [&] {
        first = run(ssh("bob", "web-01", {}, {"echo ready"}));
        return first.exit_code == 0;
      },
      10s))
      << first.exit_code << " " << first.err;
  // ...every connection gets in.
  int refused = 0;
  std::string errors;
  for (int i = 0; i < 12; ++i) {
    auto r = run(ssh("bob", "web-01", {}, {"echo " + std::to_string(i)}));
    if (r.exit_code != 0 || r.out != std::to_string(i) + "\n") {
      ++refused;
      errors +=
          "attempt " + std::to_string(i) + ": exit " + std::to_string(r.exit_code) + ": " + r.err;
    }
  }
  EXPECT_EQ(refused, 0) << errors;
}

TEST_F(OperatorExec, UnknownEndedAndForbiddenSessionsGetTheSameAnswer) {
  start_relay({"alice"});

  // An ended ad-hoc session.
  std::string ended;
  {
    Process agent(agent_help_argv(relay().address(), tmp_ / "gone"));
    auto id = banner_session_id(agent);
    ASSERT_TRUE(id) << agent.err();
    ended = *id;
    agent.signal(SIGTERM);
    ASSERT_TRUE(agent.wait(10s));
  }
  ASSERT_TRUE(wait_until([&] {
    auto active = relay().sessions(true);
    return active.is_array() && find_by(active, "id", ended).is_null();
  }));

  // A live enrolled device alice holds no grant for (by ID and by name).
  std::string token = create_enroll_token(relay(), "web-01");
  Process enrolled(agent_run_argv(relay().address(), tmp_ / "web", {"--enroll-token", token}));
  auto web_id = logged_session_id(enrolled);
  ASSERT_TRUE(web_id) << enrolled.err();
  // A live ad-hoc session gives a never-issued ID (any other nine digits).
  Process adhoc(agent_help_argv(relay().address(), tmp_ / "adhoc"));
  auto live = banner_session_id(adhoc);
  ASSERT_TRUE(live) << adhoc.err();
  std::string unknown = *live == "123456789" || *web_id == "123456789" ? "987654321" : "123456789";

  struct Attempt {
    std::string user;
    RunResult result;
    double seconds = 0;
  };
  std::vector<Attempt> attempts{
      {unknown, {}, 0}, {ended, {}, 0}, {*web_id, {}, 0}, {"web-01", {}, 0}};
  for (auto& a : attempts) {
    // Timed from the last try: a refusal at authentication (key not loaded yet) is retried.
    wait_until(
        [&] {
          auto start = Clock::now();
          a.result = run(ssh("alice", a.user, {}, {"echo should-not-run"}));
          a.seconds = seconds_since(start);
          return !ssh_auth_refused(a.result);
        },
        10s);
  }
  for (const auto& a : attempts) {
    SCOPED_TRACE("user " + a.user);
    EXPECT_NE(a.result.exit_code, 0);
    EXPECT_EQ(a.result.exit_code, attempts[0].result.exit_code) << "same exit code for all";
    EXPECT_NE(a.result.err.find(kNotAvailableText), std::string::npos) << a.result.err;
    EXPECT_EQ(a.result.out, "");
    // The answer takes about as long whatever the reason (no shortcut for unknown IDs).
    EXPECT_NEAR(a.seconds, attempts[0].seconds, 0.35);
  }
  // The refusal never reached the devices.
  EXPECT_EQ(adhoc.out().find("allow?"), std::string::npos) << adhoc.out();
  EXPECT_EQ(enrolled.out().find("alice"), std::string::npos) << enrolled.out();
}

TEST_F(OperatorConsent, RefusedByTheDeviceUserAndToldWhy) {
  start_relay({"alice"});
  start_adhoc_agent({"--shell", "/bin/sh"}, "n");
  const auto marker = tmp_ / "ran";

  auto r = exec("alice", "touch " + marker.string());
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("declined"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(marker)) << "the refused command ran";
  EXPECT_TRUE(agent().wait_for_output("Refused.", 5s)) << agent().out();
  ASSERT_EQ(consent().questions().size(), 1u) << agent().out();
  EXPECT_EQ(consent().questions()[0], "asks to run a command: touch " + marker.string());
}

TEST_F(OperatorConsent, NoAnswerInTimeMeansNo) {
  start_relay({"alice"}, {"--consent-timeout", "1s"});
  // The agent's stdin stays open and nobody answers.
  start_adhoc_agent({"--shell", "/bin/sh"}, "");
  const auto marker = tmp_ / "ran";

  auto start = Clock::now();
  auto r = exec("alice", "touch " + marker.string());
  double took = seconds_since(start);
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("did not answer in time"), std::string::npos) << r.err;
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 8.0);
  EXPECT_TRUE(agent().wait_for_output("no answer in time", 5s)) << agent().out();
  EXPECT_FALSE(fs::exists(marker)) << "the command ran without consent";
}

TEST_F(OperatorEnrolled, GrantedOperatorsAttachWithoutPromptOthersDoNot) {
  start_relay({"bob", "carol"});
  start_enrolled_agent(create_enroll_token(relay(), "web-01"));
  auto granted = relay().admin({"grant", "add", "bob", "web-01"});
  ASSERT_EQ(granted.exit_code, 0) << granted.out << granted.err;

  // bob, granted: by name and by session ID, no question asked.
  RunResult by_name;
  ASSERT_TRUE(wait_until(
      [&] {
        by_name = run(ssh("bob", "web-01", {}, {"echo by-name; exit 5"}));
        return by_name.exit_code == 5;  // the grant is picked up within a moment
      },
      10s))
      << by_name.exit_code << " " << by_name.out << by_name.err;
  EXPECT_EQ(by_name.out, "by-name\n");
  auto by_id = exec("bob", "echo by-id");
  EXPECT_EQ(by_id.exit_code, 0) << by_id.err;
  EXPECT_EQ(by_id.out, "by-id\n");
  EXPECT_EQ(agent().out().find("allow?"), std::string::npos) << agent().out();

  // carol, registered but without a grant: the same answer as an unknown ID.
  auto refused = run_operator_ssh(ssh("carol", "web-01", {}, {"echo should-not-run"}));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find(kNotAvailableText), std::string::npos) << refused.err;
  EXPECT_EQ(refused.out, "");

  // Without the grant, bob is refused too.
  auto revoked = relay().admin({"grant", "remove", "bob", "web-01"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.out << revoked.err;
  RunResult after;
  EXPECT_TRUE(wait_until(
      [&] {
        after = run(ssh("bob", "web-01", {}, {"echo still-in"}));
        return after.exit_code != 0 && !ssh_auth_refused(after);
      },
      10s))
      << after.exit_code << " " << after.out << after.err;
  EXPECT_EQ(after.out, "");
  EXPECT_NE(after.err.find(kNotAvailableText), std::string::npos) << after.err;
}

TEST_F(OperatorEnrolled, ConsentPromptPolicyAsksEvenGrantedOperators) {
  start_relay({"bob"});
  std::string token = create_enroll_token(relay(), "kiosk-1");
  ASSERT_EQ(relay().admin({"grant", "add", "bob", "kiosk-1"}).exit_code, 0);
  start_enrolled_agent(token, {"--consent", "prompt", "--shell", "/bin/sh"}, "y");

  RunResult r;
  ASSERT_TRUE(wait_until(
      [&] {
        r = run(ssh("bob", "kiosk-1", {}, {"echo asked"}));
        return r.exit_code == 0;
      },
      10s))
      << r.exit_code << " " << r.out << r.err;
  EXPECT_EQ(r.out, "asked\n");
  auto questions = consent().questions();
  ASSERT_EQ(questions.size(), 1u) << agent().out();
  EXPECT_EQ(questions[0], "asks to run a command: echo asked");
  EXPECT_NE(agent().out().find("bob (" + op("bob").fingerprint + ") asks"), std::string::npos)
      << agent().out();
}

}  // namespace
}  // namespace sb::e2e
