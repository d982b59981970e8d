// The `relay` command line: one file per noun registers that noun's verbs (session.cpp has
// `relay session list|show|kill`); cli.cpp holds what several nouns share.
#pragma once
#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "common/time.hpp"

namespace sb::store {
class Db;
}

namespace sb::relay {
struct DataDir;
}

namespace sb::relay::cli {

struct Common {
  std::string data_dir;
  bool json = false;
};

// Each adds one noun (or verb) to the app; the chosen verb's callback sets *exit_code. main()
// calls them in the order `relay --help` lists them.
void add_init(CLI::App& app, int* exit_code);
void add_serve(CLI::App& app, int* exit_code);
void add_device(CLI::App& app, int* exit_code);    // list, show, revoke, group, ungroup
void add_session(CLI::App& app, int* exit_code);   // list, show, kill
void add_keys(CLI::App& app, int* exit_code);      // list, purge
void add_enroll(CLI::App& app, int* exit_code);    // create, list, revoke
void add_operator(CLI::App& app, int* exit_code);  // add, list, remove
void add_grant(CLI::App& app, int* exit_code);     // add, list, remove
void add_audit(CLI::App& app, int* exit_code);
void add_replay(CLI::App& app, int* exit_code);

// Adds --data-dir (default $SWITCHBOARD_DATA_DIR or /var/lib/switchboard) to a verb.
void add_data_dir_option(CLI::App& verb, std::string& target);
// The data dir's existing database, for an admin verb (it throws if `relay init` never ran).
std::unique_ptr<store::Db> open_db(const std::string& data_dir);

// Throws a validation error for `what` unless `name` is a valid operator or device name.
void require_name(const std::string& name, const char* what);
// Accepts "482913075" or "482 913 075" and leaves the nine digits in the option.
CLI::Validator session_id_validator();

// The cell as shown in a table: "-" when empty.
std::string or_dash(const std::string& s);
// A stored time as the lists show it (ISO-8601 UTC, as stored): `none` when there is none.
std::string iso_or(const std::optional<Time>& t, const std::string& none);

// Who runs this command, for the audit trail: the sudo caller if any, else our user.
std::string invoking_user();
// One request to the running relay's control socket; throws if no relay runs on `dir`.
nlohmann::json ask_running_relay(const DataDir& dir, const nlohmann::json& request);

// How long a verb waits for the running relay to confirm a change (the relay answers as soon
// as its store's writer has read the keys again: normally a few milliseconds).
inline constexpr std::chrono::milliseconds kApplyTimeout{5000};
// After a verb committed a change to who may do what (operators, grants): a running relay
// reloads its key snapshot now, and this returns once every connection it authenticates sees
// the change. True then, silently. Otherwise one line on err: that no relay runs (the change
// applies when it starts), or a warning that the relay did not confirm (the change is saved
// and its periodic check of the database picks it up). Never fails the verb: the change is
// committed either way, and running the verb again would only report a duplicate.
bool apply_on_running_relay(const DataDir& dir, std::ostream& err,
                            std::chrono::milliseconds timeout = kApplyTimeout);

}  // namespace sb::relay::cli
