// `relay init`: the data dir, the relay's host key and its database.
#include <iostream>

#include "relay/admin/cli.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"

namespace sb::relay::cli {

void add_init(CLI::App& app, int* exit_code) {
  auto* verb = app.add_subcommand(
      "init", "Create the data dir, the relay's ed25519 host key and its database (idempotent)");
  auto data_dir = std::make_shared<std::string>();
  add_data_dir_option(*verb, *data_dir);
  verb->callback([data_dir, exit_code] {
    DataDir dir{*data_dir};
    bool created = false;
    std::string fingerprint = init_data_dir(dir, &created);
    std::cout << (created ? "Initialised " : "Already initialised: ") << dir.root.string() << '\n'
              << "Database:  " << dir.database().string() << " (schema v"
              << store::Db::latest_schema_version() << ")\n"
              << "Host key:  " << dir.host_key().string() << '\n'
              << "Relay fingerprint: " << fingerprint << '\n'
              << "Agents pin it with: --relay-key " << fingerprint << '\n';
    *exit_code = 0;
  });
}

}  // namespace sb::relay::cli
