// What several admin nouns share: --data-dir, the database, name and session-ID checks, and
// the control socket of the running relay.
#include "relay/admin/cli.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "common/names.hpp"
#include "common/util.hpp"
#include "relay/control/control_client.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"

namespace sb::relay::cli {

void add_data_dir_option(CLI::App& verb, std::string& target) {
  target = default_data_dir();
  verb.add_option("--data-dir", target,
                  "Relay state: host key, database (default $SWITCHBOARD_DATA_DIR or "
                  "/var/lib/switchboard)")
      ->capture_default_str();
}

std::unique_ptr<store::Db> open_db(const std::string& data_dir) {
  return store::Db::open(DataDir{data_dir}.database(), false);
}

void require_name(const std::string& name, const char* what) {
  if (!valid_name(name))
    throw CLI::ValidationError(what, "1-63 characters: a-z 0-9 - _ . (not all digits)");
}

CLI::Validator session_id_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (auto id = parse_session_id(text)) {
          text = *id;
          return {};
        }
        return "'" + text + "' is not a session ID (nine digits, e.g. 482913075 or '482 913 075')";
      },
      "SESSION_ID");
}

std::string iso_or(const std::optional<Time>& t, const std::string& none) {
  return t ? iso8601_utc(*t) : none;
}

std::string or_dash(const std::string& s) {
  return s.empty() ? "-" : s;
}

std::string invoking_user() {
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo && valid_label(sudo, 64))
    return sudo;
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_name) return pw->pw_name;
  return "uid" + std::to_string(::getuid());
}

nlohmann::json ask_running_relay(const DataDir& dir, const nlohmann::json& request) {
  auto reply = ControlClient(dir.control_socket()).ask(request);
  if (!reply)
    throw std::runtime_error("relay is not running on " + dir.root.string() +
                             " (no control socket)");
  return *reply;
}

bool apply_on_running_relay(const DataDir& dir, std::ostream& err,
                            std::chrono::milliseconds timeout) {
  std::string why;
  try {
    auto reply = ControlClient(dir.control_socket(), timeout)
                     .ask({{"cmd", "keys.reload"}, {"by", invoking_user()}});
    if (!reply) {
      err << "relay not running: the change applies when it starts\n";
      return false;
    }
    if (reply->value("ok", false)) return true;
    why = reply->value("error", "it refused");
  } catch (const std::exception& e) {
    why = e.what();
  }
  err << "relay: warning: the running relay did not confirm the change (" << why
      << "): it is saved, and the relay picks it up at its next check of the database (every "
         "0.5 s)\n";
  return false;
}

}  // namespace sb::relay::cli
