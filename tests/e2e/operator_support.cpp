#include "operator_support.hpp"

namespace sb::e2e {

void SharedTerminalTest::start_device(const std::vector<std::string>& operators,
                                      std::vector<std::string> relay_args) {
  relay_ = std::make_unique<Relay>(tmp_ / "relay", Relay::Options{"1s", std::move(relay_args)});
  for (const auto& name : operators) ops_[name] = register_operator(*relay_, tmp_.path(), name);
  agent_ = std::make_unique<Process>(
      agent_help_argv(relay_->address(), tmp_ / "agent", {"--shell", "/bin/sh"}));
  auto id = banner_session_id(*agent_);
  ASSERT_TRUE(id) << agent_->err();
  id_ = *id;
  consent_ = std::make_unique<ConsentAnswerer>(*agent_);
}

void SharedTerminalTest::TearDown() {
  terminals_.clear();
  consent_.reset();
  agent_.reset();
}

Process& SharedTerminalTest::open_terminal(const std::string& name, const std::string& suffix) {
  auto argv = operator_ssh_argv(*relay_, ops_[name], tmp_ / "known_hosts", id_ + suffix, {"-tt"});
  std::unique_ptr<Process> p;
  wait_until(
      [&] {
        p = std::make_unique<Process>(argv);
        wait_until([&] { return !p->out().empty() || !p->running(); }, 10s);
        if (!p->out().empty()) return true;
        p->wait_for_output("\x01never\x02", 2s, true);
        return p->err().find("Permission denied") == std::string::npos;
      },
      10s);
  EXPECT_FALSE(p->out().empty()) << name << " got no terminal: " << p->err();
  terminals_[name] = std::move(p);
  return *terminals_[name];
}

}  // namespace sb::e2e
