// `relay device list|show|revoke|group|ungroup`: enrolled devices. list and show read the
// database directly; revoke writes it and, if the relay runs, closes the device's live tunnel;
// group and ungroup write it and have a running relay apply the change.
#include <algorithm>
#include <iostream>

#include "common/names.hpp"
#include "common/table.hpp"
#include "common/util.hpp"
#include "relay/admin/audit_view.hpp"
#include "relay/admin/cli.hpp"
#include "relay/admin/row_json.hpp"
#include "relay/control/control_client.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"

namespace sb::relay::cli {

namespace {

struct DeviceShowArgs {
  std::string data_dir;
  std::string name;
  int recent = 10;
  bool json = false;
};

void print_devices(store::Db& db, const std::string& group, bool json) {
  auto rows = db.list_devices();
  if (!group.empty())
    std::erase_if(rows, [&](const store::DeviceRow& d) {
      return std::find(d.groups.begin(), d.groups.end(), group) == d.groups.end();
    });
  if (json) {
    std::cout << nlohmann::json(rows).dump(2) << '\n';
    return;
  }
  Table table({"NAME", "STATUS", "LAST SEEN", "HOSTNAME", "OS", "GROUPS", "FINGERPRINT"});
  for (const auto& d : rows) {
    std::string groups;
    for (const auto& g : d.groups) groups += (groups.empty() ? "" : ",") + g;
    table.add({d.name, d.status, iso_or(d.last_seen, "-"), d.info.value("hostname", "-"),
               d.info.value("os", "-"), or_dash(groups), d.fingerprint});
  }
  table.print(std::cout);
}

void add_device_list(CLI::App& device, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto group = std::make_shared<std::string>();
  auto* list = device.add_subcommand("list", "List enrolled devices, their status and groups");
  add_data_dir_option(*list, common->data_dir);
  list->add_option("--group", *group, "Only the devices in this group");
  list->add_flag("--json", common->json, "JSON output");
  list->callback([common, group, exit_code] {
    if (!group->empty()) require_name(*group, "--group");
    print_devices(*open_db(common->data_dir), *group, common->json);
    *exit_code = 0;
  });
}

// `relay device group|ungroup DEVICE GROUP...`: the change is committed, then a running relay
// applies it before the verb returns (a grant to @GROUP takes or stops taking effect at once).
void add_device_grouping(CLI::App& device, int* exit_code, bool add) {
  auto common = std::make_shared<Common>();
  auto name = std::make_shared<std::string>();
  auto groups = std::make_shared<std::vector<std::string>>();
  auto* verb = device.add_subcommand(
      add ? "group" : "ungroup",
      add ? "Put an enrolled device in groups: grants to @GROUP (`relay grant add OPERATOR "
            "@GROUP`) apply to it at once"
          : "Take a device out of groups: grants to those groups stop applying to it at once "
            "(new connections are refused; operators already attached stay until they leave or "
            "`relay session kill`)");
  add_data_dir_option(*verb, common->data_dir);
  verb->add_option("DEVICE", *name, "Enrolled device name")->required();
  verb->add_option("GROUP", *groups, "Group names (same rules as device names)")
      ->required()
      ->expected(-1);
  verb->callback([common, name, groups, add, exit_code] {
    require_name(*name, "DEVICE");
    for (const auto& g : *groups) require_name(g, "GROUP");
    std::vector<std::string> unique;  // in the order given, each once
    for (const auto& g : *groups)
      if (std::find(unique.begin(), unique.end(), g) == unique.end()) unique.push_back(g);
    *groups = std::move(unique);
    if (groups->size() > store::kMaxGroupsPerDevice)
      throw CLI::ValidationError(
          "GROUP", "at most " + std::to_string(store::kMaxGroupsPerDevice) + " groups per device");
    auto db = open_db(common->data_dir);
    const std::string by = invoking_user();
    auto changed = add ? db->add_device_groups(*name, *groups, by, utc_now())
                       : db->remove_device_groups(*name, *groups, by, utc_now());
    for (const auto& g : *groups) {
      const bool did = std::find(changed.begin(), changed.end(), g) != changed.end();
      if (add)
        std::cout << (did ? "Added " : "Already in ") << "group " << g << ": " << *name << '\n';
      else
        std::cout << (did ? "Removed " : "Not in ") << "group " << g << ": " << *name << '\n';
    }
    if (!changed.empty()) apply_on_running_relay(DataDir{common->data_dir}, std::cerr);
    *exit_code = 0;
  });
}

void show_device(const DeviceShowArgs& args) {
  auto story = open_db(args.data_dir)->device_story(args.name, args.recent);
  if (!story) {
    throw std::runtime_error("no enrolled device named '" + args.name +
                             "' (see `relay device list`)");
  }
  if (args.json) {
    std::cout << nlohmann::json(*story).dump(2) << '\n';
  } else {
    print_device_story(*story, std::cout);
  }
}

void add_device_show(CLI::App& device, int* exit_code) {
  auto args = std::make_shared<DeviceShowArgs>();
  auto* show = device.add_subcommand(
      "show",
      "One enrolled device: status (online, offline, revoked), last seen, address, OS, agent "
      "version, the operators granted to it and its recent sessions with who attached.");
  add_data_dir_option(*show, args->data_dir);
  show->add_option("NAME", args->name, "Enrolled device name")->required();
  show->add_option("--sessions", args->recent, "How many recent sessions to list")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  show->add_flag("--json", args->json, "JSON output (times in UTC)");
  show->callback([args, exit_code] {
    show_device(*args);
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
    if (!db->revoke_device(*name, by, utc_now())) {
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

}  // namespace

void add_device(CLI::App& app, int* exit_code) {
  auto* device = app.add_subcommand("device", "Enrolled devices and their groups");
  device->require_subcommand(1);
  add_device_list(*device, exit_code);
  add_device_show(*device, exit_code);
  add_device_revoke(*device, exit_code);
  add_device_grouping(*device, exit_code, true);
  add_device_grouping(*device, exit_code, false);
}

}  // namespace sb::relay::cli
