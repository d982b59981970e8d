#include "operator-cli/ssh_command.hpp"

#include <string_view>

#include "common/names.hpp"
#include "common/util.hpp"

namespace sb::op {

std::optional<std::string> ssh_user(const std::string& session, Mode mode, std::string* error) {
  std::string base;
  if (auto id = parse_session_id(session))
    base = *id;
  else if (valid_name(session))
    base = session;
  else {
    if (error)
      *error =
          "'" + session.substr(0, 80) + "' is neither a session ID (nine digits) nor a device name";
    return std::nullopt;
  }
  if (mode == Mode::kReadOnly) return base + "+ro";
  if (mode == Mode::kOwn) return base + "+own";
  return base;
}

namespace {
// What ssh and scp share after their program name and port flag.
void add_options(const Connection& c, std::vector<std::string>& args) {
  if (!c.identity.empty()) args.insert(args.end(), {"-i", c.identity, "-o", "IdentitiesOnly=yes"});
  if (!c.known_hosts.empty())
    args.insert(args.end(), {"-o", "UserKnownHostsFile=" + c.known_hosts});
  if (!c.host_key_checking.empty())
    args.insert(args.end(), {"-o", "StrictHostKeyChecking=" + c.host_key_checking});
  for (const auto& option : c.extra) args.insert(args.end(), {"-o", option});
}
}  // namespace

std::vector<std::string> base_args(const Connection& c) {
  std::vector<std::string> args{c.ssh, "-p", std::to_string(c.relay_port)};
  add_options(c, args);
  return args;
}

std::vector<std::string> copy_args(const Connection& c, const std::string& user, Copy direction,
                                   const std::string& remote, const std::string& local,
                                   bool recursive) {
  std::vector<std::string> args{c.scp, "-P", std::to_string(c.relay_port)};
  add_options(c, args);
  if (recursive) args.push_back("-r");
  // scp reads HOST:PATH as remote: an IPv6 address needs brackets, and a local name with a
  // colon before any slash must not look like a host.
  const bool ipv6 = c.relay_host.find(':') != std::string::npos;
  std::string remote_operand =
      user + "@" + (ipv6 ? "[" + c.relay_host + "]" : c.relay_host) + ":" + remote;
  std::string local_operand = local;
  auto colon = local.find(':');
  if (colon != std::string::npos && local.find('/') > colon) local_operand = "./" + local;
  args.push_back("--");  // a name starting with '-' is a name, not an option
  if (direction == Copy::kGet)
    args.insert(args.end(), {remote_operand, local_operand});
  else
    args.insert(args.end(), {local_operand, remote_operand});
  return args;
}

std::vector<std::string> connect_args(const Connection& c, const std::string& user) {
  auto args = base_args(c);
  args.insert(args.end(), {"-t", user + "@" + c.relay_host});
  return args;
}

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789-_./=:,+@%") == std::string::npos)
    return word;
  std::string out = "'";
  for (char ch : word) {
    if (ch == '\'')
      out += "'\\''";
    else
      out += ch;
  }
  return out + "'";
}

std::vector<std::string> exec_args(const Connection& c, const std::string& user,
                                   const std::vector<std::string>& command) {
  auto args = base_args(c);
  args.insert(args.end(), {"-T", user + "@" + c.relay_host, "--"});
  std::string line;
  for (const auto& word : command) line += (line.empty() ? "" : " ") + shell_quote(word);
  args.push_back(line);
  return args;
}

std::vector<std::string> local_forward_args(const Connection& c, const std::string& user,
                                            const std::string& listen, const std::string& target) {
  auto args = base_args(c);
  args.insert(args.end(), {"-N", "-o", "ExitOnForwardFailure=yes", "-L", listen + ":" + target,
                           user + "@" + c.relay_host});
  return args;
}

std::vector<std::string> socks_args(const Connection& c, const std::string& user,
                                    const std::string& listen) {
  auto args = base_args(c);
  args.insert(args.end(),
              {"-N", "-o", "ExitOnForwardFailure=yes", "-D", listen, user + "@" + c.relay_host});
  return args;
}

std::vector<std::string> sessions_args(const Connection& c, bool json) {
  auto args = base_args(c);
  args.insert(args.end(), {"-T", std::string(kRelayQueryUser) + "@" + c.relay_host, "--",
                           json ? "sessions --json" : "sessions"});
  return args;
}

std::string explain_ssh_failure(int exit_status, const std::string& ssh_stderr) {
  if (exit_status != 255) return "";
  if (ssh_stderr.find("Permission denied (publickey") != std::string::npos)
    return "the relay did not accept your key. Is it registered? An admin registers it with:\n"
           "  relay operator add YOUR_NAME --key YOUR_KEY.pub\n"
           "(choose the key with -i KEY; `ssh-keygen -lf KEY.pub` shows its fingerprint)";
  if (ssh_stderr.find("Connection refused") != std::string::npos ||
      ssh_stderr.find("Could not resolve") != std::string::npos)
    return "cannot reach the relay: check --relay HOST:PORT";
  return "";
}

}  // namespace sb::op
