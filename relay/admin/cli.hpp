// The `relay` command line: one function per verb group registers its subcommands.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

namespace sb::store {
class Db;
}

namespace sb::relay::cli {

struct Common {
  std::string data_dir;
  bool json = false;
};

// Each returns nothing; the chosen verb's callback sets *exit_code.
void add_init(CLI::App& app, int* exit_code);
void add_serve(CLI::App& app, int* exit_code);
void add_lists(CLI::App& app, int* exit_code);
void add_enroll(CLI::App& app, int* exit_code);
void add_access(CLI::App& app, int* exit_code);
// `relay audit`, and `show` in the `session` and `device` groups (call after add_lists).
void add_audit(CLI::App& app, int* exit_code);
void add_replay(CLI::App& app, int* exit_code);
// `session kill`, `device revoke`, `keys purge` (through the control socket); after add_lists.
void add_control(CLI::App& app, int* exit_code);

// Adds --data-dir (default $SWITCHBOARD_DATA_DIR or /var/lib/switchboard) to a verb.
void add_data_dir_option(CLI::App& verb, std::string& target);
// The data dir's existing database, for an admin verb (it throws if `relay init` never ran).
std::unique_ptr<store::Db> open_db(const std::string& data_dir);

}  // namespace sb::relay::cli
