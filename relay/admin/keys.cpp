// `relay keys list|purge`: tunnel keys of live tunnels. list reads the database directly; purge
// asks the running relay, or does the purge itself when none runs.
#include <iostream>

#include "common/table.hpp"
#include "common/util.hpp"
#include "relay/admin/cli.hpp"
#include "relay/admin/row_json.hpp"
#include "relay/control/control_client.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"

namespace sb::relay::cli {

namespace {

void print_keys(store::Db& db, bool json) {
  auto rows = db.list_tunnel_keys();
  if (json) {
    std::cout << nlohmann::json(rows).dump(2) << '\n';
    return;
  }
  Table table({"FINGERPRINT", "DEVICE", "SESSION", "SINCE"});
  for (const auto& k : rows)
    table.add({k.fingerprint, or_dash(k.device), k.session_id, iso8601_utc(k.since)});
  table.print(std::cout);
}

void add_keys_list(CLI::App& keys, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto* list = keys.add_subcommand("list", "List live tunnel keys");
  add_data_dir_option(*list, common->data_dir);
  list->add_flag("--json", common->json, "JSON output");
  list->callback([common, exit_code] {
    print_keys(*open_db(common->data_dir), common->json);
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
                    ->purge_stale("purged by admin:" + by + " (relay not running)", utc_now());
    std::cout << "The relay is not running: " << ended
              << " session(s) left open were ended and every tunnel key removed\n";
    *exit_code = 0;
  });
}

}  // namespace

void add_keys(CLI::App& app, int* exit_code) {
  auto* keys = app.add_subcommand("keys", "Tunnel keys of live tunnels (purged when they drop)");
  keys->require_subcommand(1);
  add_keys_list(*keys, exit_code);
  add_keys_purge(*keys, exit_code);
}

}  // namespace sb::relay::cli
