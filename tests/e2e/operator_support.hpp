// Setups shared by the operator tests: one device with operator alice, and a fixture for tests
// that drive terminals with OpenSSH `ssh -tt`.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"

namespace sb::e2e {

// A relay with operator "alice" registered and a `device-agent help --shell /bin/sh` whose
// consent questions are answered yes. `id` is the session ID its banner announced: check it.
// In a test: `AliceAndShellAgent device; auto& [tmp, relay, alice, agent, id, consent] = device;`
struct AliceAndShellAgent {
  TempDir tmp;
  Relay relay{tmp / "relay"};
  OperatorKey alice = register_operator(relay, tmp.path(), "alice");
  Process agent{agent_help_argv(relay.address(), tmp / "agent", {"--shell", "/bin/sh"})};
  std::optional<std::string> id = banner_session_id(agent);
  ConsentAnswerer consent{agent};
};

// A relay, registered operators and one `device-agent help --shell /bin/sh` whose consent
// questions are answered yes; terminals opened by operator name.
class SharedTerminalTest : public ::testing::Test {
 protected:
  // Starts the relay (with relay_args), registers the operators and starts the agent; fails
  // (fatally, in the caller's SetUp or test body) when the agent announces no session ID.
  void start_device(const std::vector<std::string>& operators,
                    std::vector<std::string> relay_args = {});
  void TearDown() override;

  // `ssh -tt ID[SUFFIX]@relay` as the operator, once the terminal shows something (a prompt
  // or the replayed screen); restarted while the relay has not loaded the key yet.
  Process& open_terminal(const std::string& name, const std::string& suffix = "");
  Process& term(const std::string& name) { return *terminals_.at(name); }
  void type(const std::string& name, const std::string& line) {
    term(name).write_stdin(line + "\n");
  }

  TempDir tmp_;
  std::unique_ptr<Relay> relay_;
  std::map<std::string, OperatorKey> ops_;
  std::unique_ptr<Process> agent_;
  std::unique_ptr<ConsentAnswerer> consent_;
  std::map<std::string, std::unique_ptr<Process>> terminals_;
  std::string id_;
};

}  // namespace sb::e2e
