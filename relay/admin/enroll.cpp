// `relay enroll create|list`: one-time tokens that bind a name to a device.
#include <iostream>

#include "common/cli/duration_validator.hpp"
#include "common/names.hpp"
#include "common/table.hpp"
#include "common/util.hpp"
#include "keys/keys.hpp"
#include "relay/admin/cli.hpp"
#include "relay/admin/row_json.hpp"
#include "relay/store/store.hpp"

namespace sb::relay::cli {

namespace {

struct CreateArgs {
  std::string data_dir;
  std::string name;
  std::string ttl = "1h";
  bool json = false;
};

void require_device_name(const std::string& name) {
  require_name(name, "--name");
  if (reserved_device_name(name))
    throw CLI::ValidationError("--name", "'" + name +
                                             "' is reserved by the relay (SSH user names "
                                             "'device' and 'relay'); choose another name");
}

// Stores the token's hash only: the token itself is shown once, here.
void create_token(const CreateArgs& args) {
  require_device_name(args.name);
  auto db = open_db(args.data_dir);
  std::string token = keys::generate_enrollment_token();
  const Time now = utc_now();
  const Time expiry = now + checked_duration(args.ttl);
  const std::string expires = iso8601_utc(expiry);
  db->create_enrollment(args.name, keys::hash_token(token), now, expiry);
  if (args.json) {
    std::cout << nlohmann::json{{"name", args.name}, {"token", token}, {"expires", expires}}.dump(2)
              << '\n';
    return;
  }
  std::cout << token << '\n';
  std::cerr << "One-time token for '" << args.name << "', valid until " << expires
            << ".\nOn the device: device-agent run --relay HOST:PORT --data-dir DIR "
               "--enroll-token "
            << token << '\n';
}

void add_enroll_create(CLI::App& enroll, int* exit_code) {
  auto args = std::make_shared<CreateArgs>();
  auto* create = enroll.add_subcommand(
      "create", "Print a one-time token; the device presents it once with --enroll-token");
  add_data_dir_option(*create, args->data_dir);
  create->add_option("--name", args->name, "The device's name (lowercase, digits, - _ .)")
      ->required();
  create->add_option("--ttl", args->ttl, "How long the token stays valid")
      ->check(duration_validator())
      ->capture_default_str();
  create->add_flag("--json", args->json, "JSON output");
  create->callback([args, exit_code] {
    create_token(*args);
    *exit_code = 0;
  });
}

void print_enrollments(store::Db& db, bool as_json) {
  auto rows = db.list_enrollments();
  if (as_json) {
    std::cout << nlohmann::json(rows).dump(2) << '\n';
    return;
  }
  Table table({"NAME", "CREATED", "EXPIRES", "USED"});
  for (const auto& e : rows)
    table.add({e.name, iso8601_utc(e.created), iso8601_utc(e.expires), iso_or(e.used, "-")});
  table.print(std::cout);
}

void add_enroll_list(CLI::App& enroll, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto* list = enroll.add_subcommand("list", "List enrollment tokens (never the tokens)");
  add_data_dir_option(*list, common->data_dir);
  list->add_flag("--json", common->json, "JSON output");
  list->callback([common, exit_code] {
    print_enrollments(*open_db(common->data_dir), common->json);
    *exit_code = 0;
  });
}

}  // namespace

void add_enroll(CLI::App& app, int* exit_code) {
  auto* enroll = app.add_subcommand("enroll", "One-time tokens that bind a name to a device");
  enroll->require_subcommand(1);
  add_enroll_create(*enroll, exit_code);
  add_enroll_list(*enroll, exit_code);
}

}  // namespace sb::relay::cli
