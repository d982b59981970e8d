// Builds the OpenSSH command line for each operator-cli verb. OpenSSH already does what an
// operator's terminal needs (raw mode, ~. escapes, window-size changes, SOCKS5 with IPv4/IPv6/
// names, known_hosts with the rules admins know), so operator-cli drives the installed `ssh`
// instead of re-implementing a client.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace sb::op {

struct Connection {
  std::string relay_host;
  int relay_port = 2222;
  std::string identity;           // -i KEY, or "" for ssh's defaults / agent
  std::string known_hosts;        // UserKnownHostsFile, or "" for ssh's default
  std::string host_key_checking;  // "", "yes", "accept-new", "ask"
  std::string ssh = "ssh";
  std::string scp = "scp";
  std::vector<std::string> extra;  // -o options passed through
};

enum class Mode { kShared, kReadOnly, kOwn };

// The SSH user name for a session ID / device name and mode; nullopt if the session text is
// neither (message in *error).
std::optional<std::string> ssh_user(const std::string& session, Mode mode, std::string* error);

std::vector<std::string> base_args(const Connection& c);
std::vector<std::string> connect_args(const Connection& c, const std::string& user);
std::vector<std::string> exec_args(const Connection& c, const std::string& user,
                                   const std::vector<std::string>& command);
std::vector<std::string> local_forward_args(const Connection& c, const std::string& user,
                                            const std::string& listen, const std::string& target);
std::vector<std::string> socks_args(const Connection& c, const std::string& user,
                                    const std::string& listen);
// `get` / `put`: OpenSSH's scp (which speaks SFTP since OpenSSH 9) between a path on the device
// and one here, with the same options as ssh; recursive: whole directories (-r).
enum class Copy { kGet, kPut };
std::vector<std::string> copy_args(const Connection& c, const std::string& user, Copy direction,
                                   const std::string& remote, const std::string& local,
                                   bool recursive);
// `sessions`: the relay itself answers as SSH user "relay" (no device involved).
std::vector<std::string> sessions_args(const Connection& c, bool json);
// A hint for a failed ssh run (its exit status and stderr), or "" when ssh's own words suffice:
// a refused key is most often one the relay's admin has not registered yet.
std::string explain_ssh_failure(int exit_status, const std::string& ssh_stderr);
// Quotes one word for the remote shell (POSIX sh single quotes).
std::string shell_quote(const std::string& word);

}  // namespace sb::op
