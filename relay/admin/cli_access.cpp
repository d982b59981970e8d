// Who may attach: `relay operator add|list|remove` and `relay grant add|list|remove`.
#include <iostream>

#include "common/names.hpp"
#include "common/util.hpp"
#include "keys/keys.hpp"
#include "relay/admin/cli.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"
#include "common/table.hpp"

namespace sb::relay::cli {

namespace {

constexpr std::size_t kMaxKeyFile = 16 * 1024;

void require_name(const std::string& name, const char* what) {
  if (!valid_name(name))
    throw CLI::ValidationError(what, "1-63 characters: a-z 0-9 - _ . (not all digits)");
}

keys::PublicKey read_public_key(const std::string& file) {
  std::string text = read_file_bounded(file, kMaxKeyFile);
  auto line_end = text.find('\n');
  std::string error;
  auto key = keys::parse_authorized_key(text.substr(0, line_end), &error);
  if (!key) throw std::runtime_error(file + ": " + error);
  return *key;
}

void add_operator_verbs(CLI::App& app, int* exit_code) {
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
    open_db(common->data_dir)
        ->add_operator(*name, key.openssh_line(), key.fingerprint, now_iso8601());
    std::cout << "Added operator " << *name << " (" << key.fingerprint << ")\n";
    *exit_code = 0;
  });

  auto* list = group->add_subcommand("list", "List operators");
  add_data_dir_option(*list, common->data_dir);
  list->add_flag("--json", common->json, "JSON output");
  list->callback([common, exit_code] {
    auto rows = open_db(common->data_dir)->list_operators();
    if (common->json) {
      auto out = nlohmann::json::array();
      for (const auto& r : rows)
        out.push_back(
            {{"name", r.name}, {"fingerprint", r.fingerprint}, {"key", r.key}, {"added", r.added}});
      std::cout << out.dump(2) << '\n';
    } else {
      Table table({"NAME", "FINGERPRINT", "ADDED"});
      for (const auto& r : rows) table.add({r.name, r.fingerprint, r.added});
      table.print(std::cout);
    }
    *exit_code = 0;
  });

  auto* remove = group->add_subcommand("remove", "Remove an operator (and their grants)");
  add_data_dir_option(*remove, common->data_dir);
  remove->add_option("NAME", *name, "Operator name")->required();
  remove->callback([common, name, exit_code] {
    if (!open_db(common->data_dir)->remove_operator(*name, now_iso8601()))
      throw std::runtime_error("no operator named '" + *name + "'");
    std::cout << "Removed operator " << *name << '\n';
    *exit_code = 0;
  });
}

void add_grant_verbs(CLI::App& app, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto op = std::make_shared<std::string>();
  auto device = std::make_shared<std::string>();
  auto* group = app.add_subcommand("grant", "Grants: which operator may attach to which device");
  group->require_subcommand(1);

  auto* add = group->add_subcommand("add", "Let OPERATOR attach to the enrolled DEVICE");
  add_data_dir_option(*add, common->data_dir);
  add->add_option("OPERATOR", *op)->required();
  add->add_option("DEVICE", *device)->required();
  add->callback([common, op, device, exit_code] {
    require_name(*op, "OPERATOR");
    require_name(*device, "DEVICE");
    open_db(common->data_dir)->add_grant(*op, *device, now_iso8601());
    std::cout << "Granted " << *op << " access to " << *device << '\n';
    *exit_code = 0;
  });

  auto* list = group->add_subcommand("list", "List grants");
  add_data_dir_option(*list, common->data_dir);
  list->add_flag("--json", common->json, "JSON output");
  list->callback([common, exit_code] {
    auto rows = open_db(common->data_dir)->list_grants();
    if (common->json) {
      auto out = nlohmann::json::array();
      for (const auto& r : rows)
        out.push_back({{"operator", r.operator_name}, {"device", r.device}, {"added", r.added}});
      std::cout << out.dump(2) << '\n';
    } else {
      Table table({"OPERATOR", "DEVICE", "ADDED"});
      for (const auto& r : rows) table.add({r.operator_name, r.device, r.added});
      table.print(std::cout);
    }
    *exit_code = 0;
  });

  auto* remove = group->add_subcommand("remove", "Withdraw a grant");
  add_data_dir_option(*remove, common->data_dir);
  remove->add_option("OPERATOR", *op)->required();
  remove->add_option("DEVICE", *device)->required();
  remove->callback([common, op, device, exit_code] {
    if (!open_db(common->data_dir)->remove_grant(*op, *device, now_iso8601()))
      throw std::runtime_error("no grant for '" + *op + "' on '" + *device + "'");
    std::cout << "Removed grant " << *op << " -> " << *device << '\n';
    *exit_code = 0;
  });
}

}  // namespace

void add_access(CLI::App& app, int* exit_code) {
  add_operator_verbs(app, exit_code);
  add_grant_verbs(app, exit_code);
}

}  // namespace sb::relay::cli
