#include "operator_support.hpp"

#include <regex>

#include "tcp_service.hpp"

namespace sb::e2e {

OperatorKey make_operator_key(const std::filesystem::path& dir, const std::string& name) {
  OperatorKey op{name, dir / (name + ".key"), ""};
  auto gen = run(
      {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", op.key.string()});
  EXPECT_EQ(gen.exit_code, 0) << "ssh-keygen: " << gen.err;
  auto listed = run({"/usr/bin/ssh-keygen", "-l", "-E", "sha256", "-f", op.key.string() + ".pub"});
  std::smatch m;
  static const std::regex fp_re("(SHA256:[A-Za-z0-9+/]+)");
  if (std::regex_search(listed.out, m, fp_re)) op.fingerprint = m[1].str();
  EXPECT_FALSE(op.fingerprint.empty()) << listed.out << listed.err;
  return op;
}

OperatorKey register_operator(Relay& relay, const std::filesystem::path& dir,
                              const std::string& name) {
  auto op = make_operator_key(dir, name);
  auto added = relay.admin({"operator", "add", name, "--key", op.key.string() + ".pub"});
  EXPECT_EQ(added.exit_code, 0) << "relay operator add " << name << ": " << added.out << added.err;
  return op;
}

std::string create_enroll_token(Relay& relay, const std::string& name) {
  auto r = relay.admin({"enroll", "create", "--name", name});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string token = r.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  return token;
}

// OpenSSH's ssh with no user config, one key and the test's known_hosts, in batch mode.
static std::vector<std::string> batch_ssh_argv(const Relay& relay, const std::filesystem::path& key,
                                               const std::filesystem::path& known_hosts,
                                               const std::string& host_key_checking) {
  return {"/usr/bin/ssh",
          "-F",
          "/dev/null",
          "-p",
          std::to_string(relay.port()),
          "-i",
          key.string(),
          "-o",
          "IdentitiesOnly=yes",
          "-o",
          "UserKnownHostsFile=" + known_hosts.string(),
          "-o",
          host_key_checking,
          "-o",
          "BatchMode=yes"};
}

std::vector<std::string> operator_ssh_argv(const Relay& relay, const OperatorKey& op,
                                           const std::filesystem::path& known_hosts,
                                           const std::string& user,
                                           const std::vector<std::string>& options,
                                           const std::vector<std::string>& command) {
  auto argv = batch_ssh_argv(relay, op.key, known_hosts, "StrictHostKeyChecking=accept-new");
  argv.insert(argv.end(), {"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"});
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(user + "@127.0.0.1");
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::vector<std::string> agentless_device_argv(const Relay& relay, const OperatorKey& device_key,
                                               const std::filesystem::path& known_hosts,
                                               const std::vector<std::string>& options) {
  auto argv = batch_ssh_argv(relay, device_key.key, known_hosts, "StrictHostKeyChecking=no");
  argv.insert(argv.end(), {"-o", "ExitOnForwardFailure=yes"});
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back("device@127.0.0.1");
  return argv;
}

bool ssh_auth_refused(const RunResult& r) {
  return r.exit_code == 255 && r.err.find("Permission denied (publickey)") != std::string::npos;
}

RunResult run_operator_ssh(const std::vector<std::string>& argv, const RunOptions& options) {
  RunResult r;
  wait_until(
      [&] {
        r = run(argv, options);
        return !ssh_auth_refused(r);
      },
      10s);
  return r;
}

std::unique_ptr<Process> start_operator_process(const std::vector<std::string>& argv,
                                                const std::function<bool(Process&)>& ready,
                                                Millis ready_within) {
  std::unique_ptr<Process> p;
  wait_until(
      [&] {
        p = std::make_unique<Process>(argv);
        if (wait_until([&] { return ready(*p) || !p->running(); }, ready_within) && ready(*p))
          return true;
        // Not ready: try again only if it ended because the key was not loaded yet.
        if (!p->wait(2s)) return true;
        return p->err().find("Permission denied") == std::string::npos;
      },
      10s);
  return p;
}

std::string spaced_session_id(const std::string& id) {
  if (id.size() != 9) return id;
  return id.substr(0, 3) + " " + id.substr(3, 3) + " " + id.substr(6, 3);
}

ConsentAnswerer::ConsentAnswerer(Process& agent, std::string answer)
    : agent_(agent), answer_(std::move(answer)), thread_([this] { loop(); }) {}

ConsentAnswerer::~ConsentAnswerer() {
  stop_ = true;
  thread_.join();
}

void ConsentAnswerer::loop() {
  std::size_t answered = 0;
  while (!stop_) {
    if (agent_.wait_for_nth_match(kConsentPromptRegex, answered + 1, 100ms)) {
      agent_.write_stdin(answer_ + "\n");
      ++answered;
    } else {
      std::this_thread::sleep_for(20ms);  // poll interval, in case the agent has exited
    }
  }
}

std::vector<std::string> ConsentAnswerer::full_questions() const {
  std::vector<std::string> out;
  static const std::regex re(kConsentPromptRegex);
  for (const auto& line : agent_.matches(R"((.* - allow\? \[y/N\].*))")) {
    std::smatch m;
    if (std::regex_search(line, m, re))
      out.push_back(m[1].str() + " (" + m[2].str() + ") " + m[3].str());
  }
  return out;
}

std::vector<std::string> ConsentAnswerer::questions() const {
  std::vector<std::string> out;
  static const std::regex re(kConsentPromptRegex);
  for (const auto& line : agent_.matches(R"((.* - allow\? \[y/N\].*))")) {
    std::smatch m;
    if (std::regex_search(line, m, re)) out.push_back(m[3].str());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// OperatorTest

void OperatorTest::start_relay(const std::vector<std::string>& operators,
                               std::vector<std::string> relay_args) {
  relay_ = std::make_unique<Relay>(tmp_ / "relay", Relay::Options{"1s", std::move(relay_args)});
  for (const auto& name : operators) ops_[name] = register_operator(*relay_, tmp_.path(), name);
}

void OperatorTest::start_adhoc_agent(std::vector<std::string> agent_args,
                                     const std::string& answer) {
  agent_ = std::make_unique<Process>(
      agent_help_argv(relay_->address(), tmp_ / "agent", std::move(agent_args)));
  auto id = banner_session_id(*agent_);
  if (!id) throw std::runtime_error("the agent announced no session ID:\n" + agent_->err());
  id_ = *id;
  if (!answer.empty()) consent_ = std::make_unique<ConsentAnswerer>(*agent_, answer);
}

void OperatorTest::start_enrolled_agent(const std::string& token,
                                        std::vector<std::string> agent_args,
                                        const std::string& answer) {
  agent_args.insert(agent_args.begin(), {"--enroll-token", token});
  agent_ = std::make_unique<Process>(
      agent_run_argv(relay_->address(), tmp_ / "agent", std::move(agent_args)));
  auto id = logged_session_id(*agent_);
  if (!id) throw std::runtime_error("the agent logged no session ID:\n" + agent_->err());
  id_ = *id;
  if (!answer.empty()) consent_ = std::make_unique<ConsentAnswerer>(*agent_, answer);
}

void OperatorTest::start_device(const std::vector<std::string>& operators,
                                std::vector<std::string> relay_args) {
  start_relay(operators, std::move(relay_args));
  start_adhoc_agent();
}

std::vector<std::string> OperatorTest::ssh(const std::string& name, const std::string& user,
                                           const std::vector<std::string>& options,
                                           const std::vector<std::string>& command) const {
  return operator_ssh_argv(*relay_, op(name), known_hosts_, user, options, command);
}

std::vector<std::string> OperatorTest::operator_cli(const OperatorKey& key,
                                                    std::vector<std::string> args) const {
  args.insert(args.begin(), operator_bin());
  args.insert(args.end(), {"--relay", relay_->address(), "-i", key.key.string(), "--known-hosts",
                           known_hosts_.string(), "--host-key-checking", "accept-new"});
  return args;
}

RunResult OperatorTest::exec(const std::string& name, const std::string& command,
                             const RunOptions& options) const {
  return run_operator_ssh(ssh(name, id_, {}, {command}), options);
}

OperatorTest::Forward OperatorTest::connect_through_forward(const std::string& name,
                                                            const std::string& target) {
  Forward f;
  for (; f.attempts < 3 && f.fd < 0; ++f.attempts) {
    const int local = free_port();
    f.ssh = std::make_unique<Process>(ssh(name, id_,
                                          {"-v", "-N", "-o", "ExitOnForwardFailure=yes", "-L",
                                           "127.0.0.1:" + std::to_string(local) + ":" + target}));
    if (!f.ssh->wait_for_output(kForwardListening, 15s, true)) continue;
    // Logged just before ssh binds: a connection may be refused for a moment.
    wait_until([&] { return (f.fd = connect_tcp(local)) >= 0 || !f.ssh->running(); }, 5s);
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// SharedTerminalTest

Process& SharedTerminalTest::open_terminal(const std::string& name, const std::string& suffix) {
  auto p = start_operator_process(ssh(name, id_ + suffix, {"-tt"}),
                                  [](Process& t) { return !t.out().empty(); });
  EXPECT_FALSE(p->out().empty()) << name << " got no terminal: " << p->err();
  terminals_[name] = std::move(p);
  return *terminals_[name];
}

}  // namespace sb::e2e
