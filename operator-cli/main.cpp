#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "common/io/net.hpp"
#include "operator-cli/ssh_child.hpp"
#include "operator-cli/ssh_command.hpp"

namespace {

struct Args {
  std::string relay = std::getenv("SWITCHBOARD_RELAY") ? std::getenv("SWITCHBOARD_RELAY") : "";
  std::string identity;
  std::string known_hosts;
  std::string host_key_checking;
  std::vector<std::string> ssh_options;
  std::string session;
  bool read_only = false;
  bool own = false;
  std::vector<std::string> command;
  std::string listen;
  std::string socks = "127.0.0.1:1080";
  std::string forward;
  std::string remote_path, local_path;
  bool recursive = false;
  bool dry_run = false;
  bool json = false;
};

sb::op::Connection connection(const Args& args) {
  if (args.relay.empty())
    throw CLI::ValidationError("--relay",
                               "which relay? give --relay HOST:PORT (or set "
                               "SWITCHBOARD_RELAY, or relay = \"...\" in --config)");
  std::string error;
  auto relay = sb::net::parse_host_port(args.relay, 2222, &error);
  if (!relay) throw CLI::ValidationError("--relay", error);
  sb::op::Connection c;
  c.relay_host = relay->host;
  c.relay_port = relay->port;
  c.identity = args.identity;
  c.known_hosts = args.known_hosts;
  c.host_key_checking = args.host_key_checking;
  c.extra = args.ssh_options;
  return c;
}

std::string user_for(const Args& args, sb::op::Mode mode) {
  std::string error;
  auto user = sb::op::ssh_user(args.session, mode, &error);
  if (!user) throw CLI::ValidationError("SESSION", error);
  return *user;
}

// Replaces this process with ssh (or scp), so signals, the terminal and the exit code are its.
[[noreturn]] void run_ssh(const std::vector<std::string>& argv, bool dry_run) {
  if (dry_run) {
    for (const auto& a : argv) std::cout << sb::op::shell_quote(a) << ' ';
    std::cout << '\n';
    std::exit(0);
  }
  std::vector<char*> raw;
  for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
  raw.push_back(nullptr);
  execvp(raw[0], raw.data());
  std::cerr << "operator-cli: cannot run " << argv[0] << ": " << std::strerror(errno)
            << " (install openssh-client)\n";
  std::exit(127);
}

void refuse_command(const Args& args) {
  if (!args.command.empty())
    throw CLI::ValidationError("--", "only `exec` takes a command after --");
}

void add_common(CLI::App& verb, Args& args, bool session = true) {
  verb.add_option("--relay", args.relay, "The relay, HOST:PORT (default $SWITCHBOARD_RELAY)");
  verb.add_option("-i,--identity", args.identity, "Your private key (default: ssh's own choice)");
  verb.add_option("--known-hosts", args.known_hosts,
                  "known_hosts file for the relay's host key (default: ssh's)");
  verb.add_option("--host-key-checking", args.host_key_checking,
                  "StrictHostKeyChecking for the relay: yes, accept-new or ask");
  verb.add_option("-o", args.ssh_options, "An extra ssh -o option (repeatable)")
      ->allow_extra_args(false);
  verb.add_flag("--dry-run", args.dry_run, "Print the ssh command instead of running it");
  if (session)
    verb.add_option("SESSION", args.session, "Session ID (482913075, 482 913 075) or device name")
        ->required();
}

void add_connect(CLI::App& app, Args& args) {
  auto* connect =
      app.add_subcommand("connect", "Interactive terminal (shared by default; ~. leaves)");
  add_common(*connect, args);
  connect->add_flag("--read-only", args.read_only, "Watch the shared terminal without typing");
  connect->add_flag("--own", args.own, "Your own private shell instead of the shared one");
  connect->callback([&args] {
    refuse_command(args);
    if (args.read_only && args.own)
      throw CLI::ValidationError("--read-only and --own exclude each other");
    auto mode = args.read_only ? sb::op::Mode::kReadOnly
                : args.own     ? sb::op::Mode::kOwn
                               : sb::op::Mode::kShared;
    run_ssh(sb::op::connect_args(connection(args), user_for(args, mode)), args.dry_run);
  });
}

void add_exec(CLI::App& app, Args& args) {
  auto* exec = app.add_subcommand("exec", "Run one command on the device; exits with its code");
  add_common(*exec, args);
  exec->footer("COMMAND: the command and its arguments, after --");
  exec->callback([&args] {
    if (args.command.empty()) throw CLI::ValidationError("COMMAND", "give the command after --");
    run_ssh(
        sb::op::exec_args(connection(args), user_for(args, sb::op::Mode::kShared), args.command),
        args.dry_run);
  });
}

void add_screen(CLI::App& app, Args& args) {
  auto* screen = app.add_subcommand("screen", "Forward the device's screen (VNC) to a local port");
  add_common(*screen, args);
  args.listen = "127.0.0.1:5901";
  screen->add_option("--listen", args.listen, "Local address for your VNC viewer")
      ->capture_default_str();
  screen->callback([&args] {
    refuse_command(args);
    std::cerr << "Point your VNC viewer at " << args.listen << " (Ctrl-C to stop)\n";
    run_ssh(sb::op::local_forward_args(connection(args), user_for(args, sb::op::Mode::kShared),
                                       args.listen, "screen:5900"),
            args.dry_run);
  });
}

void add_proxy(CLI::App& app, Args& args) {
  auto* proxy = app.add_subcommand("proxy", "A local SOCKS5 proxy through the device's network");
  add_common(*proxy, args);
  proxy->add_option("--socks", args.socks, "Local SOCKS5 address")->capture_default_str();
  proxy->callback([&args] {
    refuse_command(args);
    std::cerr << "SOCKS5 proxy on " << args.socks << " (Ctrl-C to stop)\n";
    run_ssh(sb::op::socks_args(connection(args), user_for(args, sb::op::Mode::kShared), args.socks),
            args.dry_run);
  });
}

void add_forward(CLI::App& app, Args& args) {
  auto* forward =
      app.add_subcommand("forward", "Forward a local port to HOST:PORT seen from the device");
  add_common(*forward, args);
  forward->add_option("-L", args.forward, "LOCAL_PORT:HOST:PORT")->required();
  forward->callback([&args] {
    refuse_command(args);
    auto colon = args.forward.find(':');
    if (colon == std::string::npos || args.forward.find(':', colon + 1) == std::string::npos)
      throw CLI::ValidationError("-L", "expected LOCAL_PORT:HOST:PORT");
    std::string local = "127.0.0.1:" + args.forward.substr(0, colon);
    run_ssh(sb::op::local_forward_args(connection(args), user_for(args, sb::op::Mode::kShared),
                                       local, args.forward.substr(colon + 1)),
            args.dry_run);
  });
}

// `get` and `put`: the operator's own scp, so progress, globs, -r and its exit status are scp's.
void add_copy(CLI::App& app, Args& args, sb::op::Copy direction) {
  const bool get = direction == sb::op::Copy::kGet;
  auto* copy = app.add_subcommand(get ? "get" : "put",
                                  get ? "Copy REMOTE from the device to LOCAL here (scp)"
                                      : "Copy LOCAL from here to REMOTE on the device (scp)");
  add_common(*copy, args);
  copy->add_option(
          "REMOTE", args.remote_path,
          "Path on the device (absolute, or relative to the home directory of the agent's user)")
      ->required();
  copy->add_option("LOCAL", args.local_path, "Path on this machine")->required();
  copy->add_flag("-r,--recursive", args.recursive, "Copy whole directories");
  copy->footer(
      "Runs your OpenSSH scp (SFTP since OpenSSH 9): the device's user is asked for \"files\"\n"
      "(attended sessions), the relay's audit records the transfer and the files it names.");
  copy->callback([&args, direction] {
    refuse_command(args);
    run_ssh(sb::op::copy_args(connection(args), user_for(args, sb::op::Mode::kShared), direction,
                              args.remote_path, args.local_path, args.recursive),
            args.dry_run);
  });
}

// `sessions` runs ssh as a child (not exec) to add a hint when the relay cannot be reached.
[[noreturn]] void list_sessions(const Args& args) {
  refuse_command(args);
  auto argv = sb::op::sessions_args(connection(args), args.json);
  if (args.dry_run) run_ssh(argv, true);
  auto result = sb::op::run_capturing_stderr(argv);
  if (!result.start_error.empty()) {
    std::cerr << "operator-cli: cannot run " << argv[0] << ": " << result.start_error
              << " (install openssh-client)\n";
    std::exit(127);
  }
  std::cerr << result.err;
  if (auto hint = sb::op::explain_ssh_failure(result.exit_status, result.err); !hint.empty())
    std::cerr << "operator-cli: " << hint << '\n';
  std::cout.flush();
  std::exit(result.exit_status);
}

void add_sessions(CLI::App& app, Args& args) {
  auto* sessions = app.add_subcommand(
      "sessions", "List the devices you may join: online (with the session ID) or offline");
  add_common(*sessions, args, false);
  sessions->add_flag("--json", args.json,
                     "JSON: [{\"device\", \"status\", \"session_id\" (null if offline), "
                     "\"groups\"}]");
  sessions->footer(
      "The relay answers from what it knows: the enrolled devices your key holds a grant for\n"
      "(`relay grant add YOU DEVICE`, or `relay grant add YOU @GROUP` for a group of devices),\n"
      "each online with its current session ID, or offline. When any is in a group, the list\n"
      "goes by group (a device under each of its groups, the ungrouped last, under -).\n"
      "Ad-hoc sessions are not listed: their user reads the ID out to you.\n"
      "Join one with `operator-cli connect DEVICE` (or the session ID).\n"
      "Plain OpenSSH does the same: ssh -p PORT relay@HOST sessions [--json]\n"
      "Exit status: 0 listed (even if empty), 255 not reached or key refused.");
  sessions->callback([&args] { list_sessions(args); });
}

// Everything after the first "--" is the remote command, word for word: CLI11 would read
// "[a,b]" as a list and options inside the command as its own. Returns the words before it,
// reversed as CLI11 takes them.
std::vector<std::string> take_remote_command(int argc, char** argv, Args& args) {
  std::vector<std::string> words(argv + 1, argv + argc);
  auto dashes = std::find(words.begin(), words.end(), "--");
  if (dashes != words.end()) {
    args.command.assign(dashes + 1, words.end());
    words.erase(dashes, words.end());
  }
  std::reverse(words.begin(), words.end());
  return words;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "switchboard operator client: attach to a device by session ID or name.\n"
      "Uses your OpenSSH client; the relay's host key is checked like any ssh host.",
      "operator-cli"};
  app.set_version_flag("--version", SB_VERSION);
  app.set_config("--config", "",
                 "Defaults from a TOML file (relay = \"host:2222\", identity = ...)");
  app.require_subcommand(1);
  Args args;
  add_connect(app, args);
  add_exec(app, args);
  add_screen(app, args);
  add_proxy(app, args);
  add_forward(app, args);
  add_copy(app, args, sb::op::Copy::kGet);
  add_copy(app, args, sb::op::Copy::kPut);
  add_sessions(app, args);
  try {
    app.parse(take_remote_command(argc, argv, args));
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "operator-cli: " << e.what() << '\n';
    return 2;
  }
  return 0;
}
