// Read-only admin verbs. They open the database directly (WAL lets them read while
// `relay serve` writes) and never change it.
#include <iostream>

#include "relay/admin/cli.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"
#include "common/table.hpp"

namespace sb::relay::cli {

namespace {

std::string or_dash(const std::string& s) {
  return s.empty() ? "-" : s;
}

void print_devices(store::Db& db, bool json) {
  auto rows = db.list_devices();
  if (json) {
    auto out = nlohmann::json::array();
    for (const auto& d : rows)
      out.push_back({{"name", d.name},
                     {"fingerprint", d.fingerprint},
                     {"status", d.status},
                     {"enrolled", d.enrolled},
                     {"last_seen", d.last_seen},
                     {"info", d.info}});
    std::cout << out.dump(2) << '\n';
    return;
  }
  Table table({"NAME", "STATUS", "LAST SEEN", "HOSTNAME", "OS", "FINGERPRINT"});
  for (const auto& d : rows)
    table.add({d.name, d.status, or_dash(d.last_seen), d.info.value("hostname", "-"),
               d.info.value("os", "-"), d.fingerprint});
  table.print(std::cout);
}

void print_sessions(store::Db& db, bool active_only, bool json) {
  auto rows = db.list_sessions(active_only);
  if (json) {
    auto out = nlohmann::json::array();
    for (const auto& s : rows)
      out.push_back({{"id", s.id},
                     {"device", s.device.empty() ? nlohmann::json() : nlohmann::json(s.device)},
                     {"kind", s.kind},
                     {"fingerprint", s.fingerprint},
                     {"source_addr", s.source_addr},
                     {"started", s.started},
                     {"ended", s.ended.empty() ? nlohmann::json() : nlohmann::json(s.ended)},
                     {"end_reason", s.end_reason},
                     {"active", s.ended.empty()},
                     {"info", s.info}});
    std::cout << out.dump(2) << '\n';
    return;
  }
  Table table({"SESSION", "DEVICE", "KIND", "FROM", "STARTED", "ENDED", "REASON"});
  for (const auto& s : rows)
    table.add({s.id, or_dash(s.device.empty() ? s.info.value("hostname", "") : s.device), s.kind,
               or_dash(s.source_addr), s.started, s.ended.empty() ? "live" : s.ended,
               or_dash(s.end_reason)});
  table.print(std::cout);
}

void print_keys(store::Db& db, bool json) {
  auto rows = db.list_tunnel_keys();
  if (json) {
    auto out = nlohmann::json::array();
    for (const auto& k : rows)
      out.push_back({{"fingerprint", k.fingerprint},
                     {"device", k.device.empty() ? nlohmann::json() : nlohmann::json(k.device)},
                     {"session_id", k.session_id},
                     {"since", k.since}});
    std::cout << out.dump(2) << '\n';
    return;
  }
  Table table({"FINGERPRINT", "DEVICE", "SESSION", "SINCE"});
  for (const auto& k : rows) table.add({k.fingerprint, or_dash(k.device), k.session_id, k.since});
  table.print(std::cout);
}

}  // namespace

void add_lists(CLI::App& app, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto active = std::make_shared<bool>(false);

  auto* device = app.add_subcommand("device", "Enrolled devices");
  device->require_subcommand(1);
  auto* device_list = device->add_subcommand("list", "List enrolled devices and their status");
  add_data_dir_option(*device_list, common->data_dir);
  device_list->add_flag("--json", common->json, "JSON output");
  device_list->callback([common, exit_code] {
    print_devices(*open_db(common->data_dir), common->json);
    *exit_code = 0;
  });

  auto* session = app.add_subcommand("session", "Device sessions (one per tunnel connection)");
  session->require_subcommand(1);
  auto* session_list = session->add_subcommand("list", "List sessions, newest first");
  add_data_dir_option(*session_list, common->data_dir);
  session_list->add_flag("--active", *active, "Only live sessions");
  session_list->add_flag("--json", common->json, "JSON output");
  session_list->callback([common, active, exit_code] {
    print_sessions(*open_db(common->data_dir), *active, common->json);
    *exit_code = 0;
  });

  auto* keys = app.add_subcommand("keys", "Tunnel keys of live tunnels (purged when they drop)");
  keys->require_subcommand(1);
  auto* keys_list = keys->add_subcommand("list", "List live tunnel keys");
  add_data_dir_option(*keys_list, common->data_dir);
  keys_list->add_flag("--json", common->json, "JSON output");
  keys_list->callback([common, exit_code] {
    print_keys(*open_db(common->data_dir), common->json);
    *exit_code = 0;
  });
}

}  // namespace sb::relay::cli
