// Admin verbs that act on the running relay through its control socket:
// `relay session kill`, `relay device revoke` and `relay keys purge`. They are added to the
// verb groups that relay/cli_lists.cpp creates.
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "common/names.hpp"
#include "common/util.hpp"
#include "relay/admin/cli.hpp"
#include "relay/control/control_client.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"

namespace sb::relay::cli {

namespace {

using nlohmann::json;

// Who runs this command, for the audit trail: the sudo caller if any, else our user.
std::string invoking_user() {
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo && valid_label(sudo, 64))
    return sudo;
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_name) return pw->pw_name;
  return "uid" + std::to_string(::getuid());
}

json ask_running_relay(const DataDir& dir, const json& request) {
  auto reply = ControlClient(dir.control_socket()).ask(request);
  if (!reply)
    throw std::runtime_error("relay is not running on " + dir.root.string() +
                             " (no control socket)");
  return *reply;
}

std::string joined(const json& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n.get<std::string>();
  return out;
}

void add_session_kill(CLI::App& session, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto id = std::make_shared<std::string>();
  auto op = std::make_shared<std::string>();
  auto* kill = session.add_subcommand(
      "kill",
      "End a live session now: every attached operator sees \"session ended by the "
      "administrator\" and is disconnected, the device's tunnel is closed (an enrolled device "
      "reconnects with a new session ID). With --operator, only that operator is removed. "
      "Needs the running relay.");
  add_data_dir_option(*kill, common->data_dir);
  kill->add_option("ID", *id, "Session ID (482913075 or \"482 913 075\")")->required();
  kill->add_option("--operator", *op, "End only this operator's attachment");
  kill->callback([common, id, op, exit_code] {
    auto session_id = parse_session_id(*id);
    if (!session_id) throw CLI::ValidationError("ID", "a session ID has nine digits");
    if (!op->empty() && !valid_name(*op))
      throw CLI::ValidationError("--operator", "not a valid operator name");
    json request{{"cmd", "session.kill"}, {"session", *session_id}, {"by", invoking_user()}};
    if (!op->empty()) request["operator"] = *op;
    json reply = ask_running_relay(DataDir{common->data_dir}, request);
    if (!reply.value("ok", false)) {
      std::cerr << "relay: " << reply.value("error", "the relay refused") << '\n';
      *exit_code = 1;
      return;
    }
    const std::string spoken = format_session_id(*session_id);
    if (!op->empty())
      std::cout << "Ended " << *op << "'s attachment to session " << spoken << '\n';
    else if (reply["operators"].empty())
      std::cout << "Ended session " << spoken << " (no operator was attached)\n";
    else
      std::cout << "Ended session " << spoken << " and disconnected " << joined(reply["operators"])
                << '\n';
    *exit_code = 0;
  });
}

void add_device_revoke(CLI::App& device, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto name = std::make_shared<std::string>();
  auto* revoke = device.add_subcommand(
      "revoke",
      "Revoke an enrolled device: its key is refused from now on and, if the relay is running, "
      "its live tunnel is closed at once. To let it back in, create a new enrollment token "
      "(`relay enroll create --name NAME`): the new key replaces the revoked one and the name "
      "keeps its grants.");
  add_data_dir_option(*revoke, common->data_dir);
  revoke->add_option("NAME", *name, "Enrolled device name")->required();
  revoke->callback([common, name, exit_code] {
    if (!valid_name(*name)) throw CLI::ValidationError("NAME", "not a valid device name");
    DataDir dir{common->data_dir};
    const std::string by = invoking_user();
    auto db = store::Db::open(dir.database(), false);
    if (!db->revoke_device(*name, by, now_iso8601())) {
      std::cerr << "relay: no enrolled device named " << *name << '\n';
      *exit_code = 1;
      return;
    }
    std::cout << "Revoked device " << *name << " (" << db->find_device(*name)->fingerprint
              << "): its key is refused from now on\n";
    auto reply = ControlClient(dir.control_socket())
                     .ask({{"cmd", "device.disconnect"},
                           {"device", *name},
                           {"reason", "revoked"},
                           {"by", by}});
    if (!reply) {
      std::cout << "The relay is not running: no tunnel to close\n";
    } else if (!reply->value("ok", false)) {
      std::cerr << "relay: the device is revoked, but the relay could not close its tunnel: "
                << reply->value("error", "unknown error") << '\n';
      *exit_code = 1;
      return;
    } else if (reply->value("closed", false)) {
      std::cout << "Closed its live tunnel (session "
                << format_session_id(reply->value("session", "")) << ")\n";
    } else {
      std::cout << "It had no live tunnel\n";
    }
    *exit_code = 0;
  });
}

void add_keys_purge(CLI::App& keys, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto* purge = keys.add_subcommand(
      "purge",
      "Run the janitor's purge now: a running relay checks every tunnel (dead ones are closed) "
      "and removes tunnel keys whose session has ended. Without a running relay, every session "
      "still marked live is ended and every tunnel key removed.");
  add_data_dir_option(*purge, common->data_dir);
  purge->callback([common, exit_code] {
    DataDir dir{common->data_dir};
    const std::string by = invoking_user();
    if (auto reply = ControlClient(dir.control_socket()).ask({{"cmd", "keys.purge"}, {"by", by}})) {
      if (!reply->value("ok", false)) {
        std::cerr << "relay: " << reply->value("error", "the relay refused") << '\n';
        *exit_code = 1;
        return;
      }
      std::cout << "Purged: " << reply->value("tunnels_closed", 0) << " dead tunnel(s) closed, "
                << reply->value("keys_purged", 0) << " stale tunnel key(s) removed\n";
      *exit_code = 0;
      return;
    }
    // No relay: hold serve's lock so that one cannot start and write at the same time.
    ServeLock lock(dir);
    int ended = store::Db::open(dir.database(), false)
                    ->purge_stale("purged by admin:" + by + " (relay not running)", now_iso8601());
    std::cout << "The relay is not running: " << ended
              << " session(s) left open were ended and every tunnel key removed\n";
    *exit_code = 0;
  });
}

CLI::App& group(CLI::App& app, const char* name) {
  // The groups are created by add_lists(); main() registers those first.
  return *app.get_subcommand(name);
}

}  // namespace

void add_control(CLI::App& app, int* exit_code) {
  add_session_kill(group(app, "session"), exit_code);
  add_device_revoke(group(app, "device"), exit_code);
  add_keys_purge(group(app, "keys"), exit_code);
}

}  // namespace sb::relay::cli
