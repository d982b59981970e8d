// `relay operator add|list|remove`: people who may attach, by SSH key. add and remove write the
// database and then have a running relay apply the change before they return.
#include <iostream>

#include "common/table.hpp"
#include "common/util.hpp"
#include "keys/keys.hpp"
#include "relay/admin/cli.hpp"
#include "relay/admin/row_json.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"

namespace sb::relay::cli {

namespace {

constexpr std::size_t kMaxKeyFile = 16 * 1024;

keys::PublicKey read_public_key(const std::string& file) {
  std::string text = read_file_bounded(file, kMaxKeyFile);
  auto line_end = text.find('\n');
  std::string error;
  auto key = keys::parse_authorized_key(text.substr(0, line_end), &error);
  if (!key) throw std::runtime_error(file + ": " + error);
  return *key;
}

}  // namespace

void add_operator(CLI::App& app, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto name = std::make_shared<std::string>();
  auto key_file = std::make_shared<std::string>();
  auto* group = app.add_subcommand("operator", "Operators: people who may attach, by SSH key");
  group->require_subcommand(1);

  auto* add = group->add_subcommand("add", "Register an operator's public key");
  add_data_dir_option(*add, common->data_dir);
  add->add_option("NAME", *name, "Operator name (lowercase, digits, - _ .)")->required();
  add->add_option("--key", *key_file, "The operator's public key file (e.g. ~/.ssh/id_ed25519.pub)")
      ->required();
  add->callback([common, name, key_file, exit_code] {
    require_name(*name, "NAME");
    auto key = read_public_key(*key_file);
    open_db(common->data_dir)->add_operator(*name, key.openssh_line(), key.fingerprint, utc_now());
    std::cout << "Added operator " << *name << " (" << key.fingerprint << ")\n";
    apply_on_running_relay(DataDir{common->data_dir}, std::cerr);
    *exit_code = 0;
  });

  auto* list = group->add_subcommand("list", "List operators");
  add_data_dir_option(*list, common->data_dir);
  list->add_flag("--json", common->json, "JSON output");
  list->callback([common, exit_code] {
    auto rows = open_db(common->data_dir)->list_operators();
    if (common->json) {
      std::cout << nlohmann::json(rows).dump(2) << '\n';
    } else {
      Table table({"NAME", "FINGERPRINT", "ADDED"});
      for (const auto& r : rows) table.add({r.name, r.fingerprint, iso8601_utc(r.added)});
      table.print(std::cout);
    }
    *exit_code = 0;
  });

  auto* remove = group->add_subcommand("remove", "Remove an operator (and their grants)");
  add_data_dir_option(*remove, common->data_dir);
  remove->add_option("NAME", *name, "Operator name")->required();
  remove->callback([common, name, exit_code] {
    if (!open_db(common->data_dir)->remove_operator(*name, utc_now()))
      throw std::runtime_error("no operator named '" + *name + "'");
    std::cout << "Removed operator " << *name << '\n';
    apply_on_running_relay(DataDir{common->data_dir}, std::cerr);
    *exit_code = 0;
  });
}

}  // namespace sb::relay::cli
