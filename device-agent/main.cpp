#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "common/cli/duration_validator.hpp"
#include "common/logging.hpp"
#include "common/names.hpp"
#include "common/util.hpp"
#include "device-agent/agent.hpp"
#include "device-agent/platform/process.hpp"
#include "keys/keys.hpp"
#ifdef _WIN32
#include "device-agent/windows/service_cli.hpp"
#endif

namespace {

struct Args {
  std::string relay;
  std::string relay_key;
  std::string data_dir = sb::agent::default_agent_dir().string();
  std::string enroll_token;
  std::string name;
  std::string keepalive = "15s";
  std::string max_backoff = "60s";
  std::string info_interval = "60s";
  std::string log_level = "info";
  bool log_json = false;
  bool json = false;
  std::string screen;
  std::string sshd = "127.0.0.1:22";
  std::vector<std::string> allow_proxy;
  std::string shell;
  std::string sftp_server = sb::agent::kDefaultSftpServer;
  std::string consent = "grants";
};

void add_connection_options(CLI::App& verb, Args& args) {
  verb.add_option("--relay", args.relay, "The relay, HOST:PORT")->required();
  verb.add_option("--relay-key", args.relay_key,
                  "Pin the relay's host key (SHA256:..., from `relay init`); without it the "
                  "first key seen is trusted and recorded in DATA_DIR/known_relays");
  verb.add_option("--data-dir", args.data_dir, "Agent state: keys, pins, status")
      ->capture_default_str();
  verb.add_option("--keepalive", args.keepalive, "How often to ping the relay")
      ->check(sb::duration_validator())
      ->capture_default_str();
  verb.add_option("--max-backoff", args.max_backoff, "Longest wait between reconnects")
      ->check(sb::duration_validator())
      ->capture_default_str();
  verb.add_option("--info-interval", args.info_interval,
                  "How often this device's system info is read again; a change worth reporting "
                  "(a login, an address, a disk filling up by 5 %) is sent to the relay")
      ->check(sb::duration_validator())
      ->capture_default_str();
  verb.add_option("--log-level", args.log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  verb.add_flag("--log-json", args.log_json, "Log one JSON object per line");
  verb.add_option("--screen", args.screen,
                  "This device's screen service (e.g. a local VNC server), ADDR:PORT; operators "
                  "reach it as host 'screen'");
  verb.add_option("--sshd", args.sshd,
                  "This device's own sshd, for end-to-end `ssh -J` (host 'sshd')")
      ->capture_default_str();
  verb.add_option("--allow-proxy", args.allow_proxy,
                  "Networks operators may reach through this device (SOCKS / -L), CIDR,...; "
                  "none by default")
      ->delimiter(',');
  verb.add_option(
      "--shell", args.shell,
      "Shell for operators (default: $SHELL or /bin/sh; on Windows %ComSpec% or cmd.exe)");
  verb.add_option("--sftp-server", args.sftp_server,
                  "SFTP server for operators' scp/sftp (the \"sftp\" subsystem), an absolute "
                  "path; \"\" refuses file transfers")
      ->capture_default_str();
}

// `run`'s flags; `service install` (Windows) takes the same.
void add_run_options(CLI::App& verb, Args& args) {
  add_connection_options(verb, args);
  verb.add_option(
      "--enroll-token", args.enroll_token,
      "Token from `relay enroll create`, needed on the first run only (single use, or shared "
      "by a fleet when created with --max-uses)");
  verb.add_option("--name", args.name, "The name this device expects to be enrolled as");
  verb.add_option("--consent", args.consent,
                  "grants: operators with a grant attach without asking; prompt: ask the "
                  "person at this device each time")
      ->capture_default_str();
}

sb::agent::AgentOptions to_options(const Args& args, bool adhoc) {
  sb::agent::AgentOptions o;
  std::string error;
  auto relay = sb::net::parse_host_port(args.relay, 2222, &error);
  if (!relay) throw CLI::ValidationError("--relay", error);
  if (!args.relay_key.empty() && !sb::keys::looks_like_fingerprint(args.relay_key))
    throw CLI::ValidationError("--relay-key", "expected SHA256:... as printed by `relay init`");
  if (!args.name.empty() && !sb::valid_name(args.name))
    throw CLI::ValidationError("--name", "1-63 characters: a-z 0-9 - _ . (not all digits)");
  if (!args.enroll_token.empty() && !sb::keys::looks_like_enrollment_token(args.enroll_token))
    throw CLI::ValidationError("--enroll-token", "not a token from `relay enroll create`");
  o.relay = *relay;
  o.relay_key = args.relay_key;
  o.data_dir = args.data_dir;
  o.adhoc = adhoc;
  o.enroll_token = args.enroll_token;
  o.name = args.name;
  o.keepalive = sb::checked_duration(args.keepalive);
  o.max_backoff = sb::checked_duration(args.max_backoff);
  o.info_interval = sb::checked_duration(args.info_interval);
  if (o.info_interval < std::chrono::seconds(1))
    throw CLI::ValidationError("--info-interval", "at least 1s (each reading walks the disks)");
  o.initial_backoff = std::min(o.initial_backoff, o.max_backoff);
  if (!args.screen.empty()) {
    auto screen = sb::net::parse_host_port(args.screen, 0, &error);
    if (!screen) throw CLI::ValidationError("--screen", error);
    o.policy.screen = *screen;
  }
  auto sshd = sb::net::parse_host_port(args.sshd, 22, &error);
  if (!sshd) throw CLI::ValidationError("--sshd", error);
  o.policy.sshd = *sshd;
  for (const auto& text : args.allow_proxy) {
    auto cidr = sb::agent::parse_cidr(text);
    if (!cidr) throw CLI::ValidationError("--allow-proxy", "not a CIDR: '" + text + "'");
    o.policy.allow_proxy.push_back(*cidr);
  }
  o.policy.shell = args.shell;
  // is_absolute: "/usr/lib/..." on POSIX, "C:\\..." on Windows.
  if (!args.sftp_server.empty() && !std::filesystem::path(args.sftp_server).is_absolute())
    throw CLI::ValidationError("--sftp-server", "an absolute path (or \"\" for none)");
  o.policy.sftp_server = args.sftp_server;
  if (args.consent != "grants" && args.consent != "prompt")
    throw CLI::ValidationError("--consent", "prompt or grants");
  o.consent_prompt = args.consent == "prompt";
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  // Writes to peers that went away must fail with EPIPE, not kill the daemon.
  sb::agent::platform::ignore_broken_pipes();
  CLI::App app{
      "switchboard device agent: keeps a reverse SSH tunnel to a relay so IT staff can help "
      "this machine.\n  help  one-off: prints a session ID to read out to support\n  run   "
      "unattended (systemd): long-term key, enrolled once with a token\n  status  is the agent "
      "connected, and with which session ID",
      "device-agent"};
  app.set_version_flag("--version", SB_VERSION);
  app.require_subcommand(1);
  Args args;
  int exit_code = 0;

  auto* help = app.add_subcommand("help", "Ask for help now: connect and print a session ID");
  add_connection_options(*help, args);
  help->callback([&] {
    sb::setup_logging("device-agent", args.log_level, args.log_json);
    exit_code = sb::agent::run_agent(to_options(args, true));
  });

  auto* run = app.add_subcommand("run", "Run unattended as an enrolled device");
  run->set_config("--config", "", "Read these flags from a TOML file");
  add_run_options(*run, args);
  run->callback([&] {
    sb::setup_logging("device-agent", args.log_level, args.log_json);
#ifdef _WIN32
    // Started by the service control manager: runs as the service; by hand: in this console.
    const auto options = to_options(args, false);
    exit_code = sb::agent::win::run_service_or_console(
        options, [&] { return sb::agent::run_agent(options); });
#else
    exit_code = sb::agent::run_agent(to_options(args, false));
#endif
  });

#ifdef _WIN32
  sb::agent::win::add_service_verb(
      app, exit_code,
      {[&](CLI::App& verb) { add_run_options(verb, args); },
       [&] { return to_options(args, false); },
       [&] { sb::setup_logging("device-agent", args.log_level, args.log_json); }},
      std::vector<std::string>(argv, argv + argc));
#endif

  auto* status = app.add_subcommand("status", "Is the agent connected, and with which session ID");
  status->add_option("--data-dir", args.data_dir, "The agent's data dir")->capture_default_str();
  status->add_flag("--json", args.json, "JSON output");
  status->callback([&] { exit_code = sb::agent::print_status(args.data_dir, args.json); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "device-agent: " << e.what() << '\n';
    return 1;
  }
  return exit_code;
}
