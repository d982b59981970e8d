// `relay grant add|list|remove`: which operator may attach to which device, or to every device
// in a group (@GROUP, present and future members). add and remove write the database and then
// have a running relay apply the change before they return.
#include <iostream>

#include "common/table.hpp"
#include "common/util.hpp"
#include "relay/admin/cli.hpp"
#include "relay/admin/row_json.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"

namespace sb::relay::cli {

namespace {
// DEVICE, or @GROUP: both follow the rules of device names.
void require_target(const std::string& target) {
  if (!target.empty() && target.front() == store::kGroupGrantPrefix)
    return require_name(target.substr(1), "@GROUP");
  require_name(target, "DEVICE");
}
}  // namespace

void add_grant(CLI::App& app, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto op = std::make_shared<std::string>();
  auto device = std::make_shared<std::string>();
  auto* group = app.add_subcommand(
      "grant", "Grants: which operator may attach to which device (or group of devices)");
  group->require_subcommand(1);

  auto* add = group->add_subcommand(
      "add",
      "Let OPERATOR attach to the enrolled DEVICE, or with @GROUP to every device in that group "
      "(those in it now and those added later; see `relay device group`)");
  add_data_dir_option(*add, common->data_dir);
  add->add_option("OPERATOR", *op)->required();
  add->add_option("DEVICE", *device, "A device name, or @GROUP")->required();
  add->callback([common, op, device, exit_code] {
    require_name(*op, "OPERATOR");
    require_target(*device);
    open_db(common->data_dir)->add_grant(*op, *device, utc_now());
    const bool to_group = device->front() == store::kGroupGrantPrefix;
    std::cout << "Granted " << *op << " access to " << (to_group ? "every device in group " : "")
              << (to_group ? device->substr(1) : *device) << '\n';
    apply_on_running_relay(DataDir{common->data_dir}, std::cerr);
    *exit_code = 0;
  });

  auto* list = group->add_subcommand("list", "List grants");
  add_data_dir_option(*list, common->data_dir);
  list->add_flag("--json", common->json, "JSON output");
  list->callback([common, exit_code] {
    auto rows = open_db(common->data_dir)->list_grants();
    if (common->json) {
      std::cout << nlohmann::json(rows).dump(2) << '\n';
    } else {
      Table table({"OPERATOR", "DEVICE / @GROUP", "ADDED"});
      for (const auto& r : rows) table.add({r.operator_name, r.device, iso8601_utc(r.added)});
      table.print(std::cout);
    }
    *exit_code = 0;
  });

  auto* remove = group->add_subcommand("remove", "Withdraw a grant");
  add_data_dir_option(*remove, common->data_dir);
  remove->add_option("OPERATOR", *op)->required();
  remove->add_option("DEVICE", *device, "A device name, or @GROUP")->required();
  remove->callback([common, op, device, exit_code] {
    if (!open_db(common->data_dir)->remove_grant(*op, *device, utc_now()))
      throw std::runtime_error("no grant for '" + *op + "' on '" + *device + "'");
    std::cout << "Removed grant " << *op << " -> " << *device << '\n';
    apply_on_running_relay(DataDir{common->data_dir}, std::cerr);
    *exit_code = 0;
  });
}

}  // namespace sb::relay::cli
