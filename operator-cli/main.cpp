#include <CLI/CLI.hpp>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{
      "switchboard operator client: attach to a device by session ID (coming next; "
      "meanwhile plain OpenSSH works once the relay accepts operators)",
      "operator-cli"};
  app.set_version_flag("--version", SB_VERSION);
  CLI11_PARSE(app, argc, argv);
  std::cerr << "operator-cli: no commands yet; see `operator-cli --help`\n";
  return 1;
}
