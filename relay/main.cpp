#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>

#include "relay/admin/cli.hpp"

int main(int argc, char** argv) {
  // Writes to peers that went away must fail with EPIPE, not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "switchboard relay: devices keep a reverse SSH tunnel here; operators reach them by "
      "session ID.\nRun `relay init` once, then `relay serve`. Every verb takes --data-dir "
      "(default $SWITCHBOARD_DATA_DIR or /var/lib/switchboard).",
      "relay"};
  app.set_version_flag("--version", SB_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  sb::relay::cli::add_init(app, &exit_code);
  sb::relay::cli::add_serve(app, &exit_code);
  sb::relay::cli::add_device(app, &exit_code);
  sb::relay::cli::add_session(app, &exit_code);
  sb::relay::cli::add_keys(app, &exit_code);
  sb::relay::cli::add_enroll(app, &exit_code);
  sb::relay::cli::add_operator(app, &exit_code);
  sb::relay::cli::add_grant(app, &exit_code);
  sb::relay::cli::add_audit(app, &exit_code);
  sb::relay::cli::add_replay(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "relay: " << e.what() << '\n';
    return 1;
  }
  return exit_code;
}
