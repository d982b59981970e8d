// What the operator tests share: operator keys, the OpenSSH command line of an operator, consent
// answered from the device's side, and OperatorTest, the fixture that starts a relay, registers
// operators and starts an ad-hoc or enrolled agent whose session they join.
#pragma once
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace sb::e2e {

// What every refused attach (unknown, ended or not permitted session) says on ssh's stderr.
inline constexpr const char* kNotAvailableText =
    "is not available (it ended, never existed, or you may not join it)";
// A consent question on an ad-hoc agent's stdout:
// "alice (SHA256:...) asks to run a command: ls - allow? [y/N] ";
// groups: 1 operator, 2 fingerprint, 3 "asks ...".
inline constexpr const char* kConsentPromptRegex =
    R"((\S+) \((SHA256:[^)]*)\) (asks .*) - allow\? \[y/N\])";

struct OperatorKey {
  std::string name;
  std::filesystem::path key;  // private key; the public key is key + ".pub"
  std::string fingerprint;    // "SHA256:..."
};

// A fresh ed25519 key pair DIR/NAME.key(.pub) without passphrase (ssh-keygen).
OperatorKey make_operator_key(const std::filesystem::path& dir, const std::string& name);
// make_operator_key, then `relay operator add NAME --key DIR/NAME.key.pub`. The running relay
// picks the key up within a moment: use run_operator_ssh for the first connection.
OperatorKey register_operator(Relay& relay, const std::filesystem::path& dir,
                              const std::string& name);

// `relay enroll create --name NAME` (expected to succeed); the token with trailing newlines and
// spaces removed.
std::string create_enroll_token(Relay& relay, const std::string& name);

// `/usr/bin/ssh -F /dev/null -p PORT -i KEY -o IdentitiesOnly=yes -o UserKnownHostsFile=KH
//  -o StrictHostKeyChecking=accept-new -o BatchMode=yes -o LogLevel=ERROR OPTIONS...
//  USER@127.0.0.1 COMMAND...`
std::vector<std::string> operator_ssh_argv(const Relay& relay, const OperatorKey& op,
                                           const std::filesystem::path& known_hosts,
                                           const std::string& user,
                                           const std::vector<std::string>& options = {},
                                           const std::vector<std::string>& command = {});
// What such a device's ssh prints on stderr from the relay's userauth banner; group 1 = the ID.
inline constexpr const char* kAgentlessBannerRegex =
    R"(switchboard: session ID (\d{3} \d{3} \d{3}))";
// OpenSSH as a device without the agent, with its own key:
// `/usr/bin/ssh -F /dev/null -p PORT -i KEY -o IdentitiesOnly=yes -o StrictHostKeyChecking=no
//  -o UserKnownHostsFile=KH -o BatchMode=yes -o ExitOnForwardFailure=yes OPTIONS...
//  device@127.0.0.1`
std::vector<std::string> agentless_device_argv(const Relay& relay, const OperatorKey& device_key,
                                               const std::filesystem::path& known_hosts,
                                               const std::vector<std::string>& options);
// ssh exited 255 with "Permission denied (publickey)".
bool ssh_auth_refused(const RunResult& r);
// run(argv), repeated (for up to 10 s) while the relay refuses the key at authentication, i.e.
// until it has loaded an operator key registered a moment ago.
RunResult run_operator_ssh(const std::vector<std::string>& argv, const RunOptions& options = {});
// Starts argv (an operator's ssh, or operator-cli) and waits up to ready_within until
// ready(process) holds; started again (for up to 10 s) while the relay refuses the key at
// authentication. The last process started, ready or not (check it).
std::unique_ptr<Process> start_operator_process(const std::vector<std::string>& argv,
                                                const std::function<bool(Process&)>& ready,
                                                Millis ready_within = 10s);
// Text that OpenSSH at -v (or operator-cli at LogLevel=DEBUG1) logs once its -L/-D forward
// listens (just before it binds: a connection may still be refused for a moment).
inline constexpr const char* kForwardListening = "Local forwarding listening on";

// "482913075" -> "482 913 075".
std::string spaced_session_id(const std::string& id);

// Answers every consent question an agent prints (kConsentPromptRegex) by writing the answer
// and a newline to its stdin, from a thread, until destroyed.
class ConsentAnswerer {
 public:
  explicit ConsentAnswerer(Process& agent, std::string answer = "y");
  ~ConsentAnswerer();
  ConsentAnswerer(const ConsentAnswerer&) = delete;
  ConsentAnswerer& operator=(const ConsentAnswerer&) = delete;
  // The "asks ..." part of every question so far, oldest first.
  std::vector<std::string> questions() const;
  // The full "NAME (SHA256:...) asks ..." text of every question so far.
  std::vector<std::string> full_questions() const;

 private:
  void loop();
  Process& agent_;
  std::string answer_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A relay, operators registered on it by name, and one agent whose session they join. A test
// says which it needs in its first lines, e.g. `start_device({"alice"});`. A step that cannot
// set up throws (the test stops there, with the relay's log).
class OperatorTest : public ::testing::Test {
 protected:
  // `relay serve RELAY_ARGS...` with the operators registered.
  void start_relay(const std::vector<std::string>& operators,
                   std::vector<std::string> relay_args = {});
  // `device-agent help AGENT_ARGS...` (data dir tmp_/agent); id_ is the session ID its banner
  // announced. Consent questions are answered `answer`, or by nobody if it is empty.
  void start_adhoc_agent(std::vector<std::string> agent_args = {"--shell", "/bin/sh"},
                         const std::string& answer = "y");
  // `device-agent run --enroll-token TOKEN AGENT_ARGS...`; id_ is the session ID it logged.
  void start_enrolled_agent(const std::string& token,
                            std::vector<std::string> agent_args = {"--shell", "/bin/sh"},
                            const std::string& answer = "");
  // The set-up most tests need: start_relay, then an ad-hoc agent with /bin/sh that says yes.
  void start_device(const std::vector<std::string>& operators,
                    std::vector<std::string> relay_args = {});

  Relay& relay() { return *relay_; }
  Process& agent() { return *agent_; }
  ConsentAnswerer& consent() { return *consent_; }
  const OperatorKey& op(const std::string& name) const { return ops_.at(name); }
  // operator_ssh_argv for operator `name` with the test's known_hosts file.
  std::vector<std::string> ssh(const std::string& name, const std::string& user,
                               const std::vector<std::string>& options = {},
                               const std::vector<std::string>& command = {}) const;
  // `operator-cli ARGS... --relay ADDR -i KEY --known-hosts KH --host-key-checking accept-new`:
  // operator-cli with `key`, and the test's known_hosts file.
  std::vector<std::string> operator_cli(const OperatorKey& key,
                                        std::vector<std::string> args) const;
  std::vector<std::string> operator_cli(const std::string& name,
                                        std::vector<std::string> args) const {
    return operator_cli(op(name), std::move(args));
  }
  // run_operator_ssh: `ssh NAME@relay` into the session (id_) running command.
  RunResult exec(const std::string& name, const std::string& command,
                 const RunOptions& options = {}) const;

  // A TCP connection to target (HOST:PORT, or a device service NAME:PORT) through
  // `ssh -v -N -o ExitOnForwardFailure=yes -L 127.0.0.1:PORT:TARGET ID@relay` as operator
  // `name`. A free port taken by another process before ssh binds it makes ssh give up after
  // it attached (a channel-less attachment): then another port is tried, three times at most.
  struct Forward {
    std::unique_ptr<Process> ssh;  // the last one started
    int fd = -1;                   // the connection (the caller closes it), or -1
    int attempts = 0;              // ssh processes started, each one attachment
  };
  Forward connect_through_forward(const std::string& name, const std::string& target);

  TempDir tmp_;
  std::filesystem::path known_hosts_ = tmp_ / "known_hosts";
  std::unique_ptr<Relay> relay_;
  std::map<std::string, OperatorKey> ops_;
  std::unique_ptr<Process> agent_;
  std::unique_ptr<ConsentAnswerer> consent_;  // declared after agent_: destroyed before it
  std::string id_;                            // digits only
};

// OperatorTest with terminals: OpenSSH `ssh -tt` into the session, by operator name.
class SharedTerminalTest : public OperatorTest {
 protected:
  // `ssh -tt ID[SUFFIX]@relay` as the operator, once the terminal shows something (a prompt
  // or the replayed screen); restarted while the relay has not loaded the key yet.
  Process& open_terminal(const std::string& name, const std::string& suffix = "");
  Process& term(const std::string& name) { return *terminals_.at(name); }
  void type(const std::string& name, const std::string& line) {
    term(name).write_stdin(line + "\n");
  }

  std::map<std::string, std::unique_ptr<Process>> terminals_;
};

}  // namespace sb::e2e
