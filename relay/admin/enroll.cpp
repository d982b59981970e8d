// `relay enroll create|list`: one-time tokens that bind a name to a device.
#include <iostream>

#include "common/names.hpp"
#include "common/table.hpp"
#include "common/util.hpp"
#include "keys/keys.hpp"
#include "relay/admin/cli.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"

namespace sb::relay::cli {

void add_enroll(CLI::App& app, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto name = std::make_shared<std::string>();
  auto ttl = std::make_shared<std::string>("1h");

  auto* enroll = app.add_subcommand("enroll", "One-time tokens that bind a name to a device");
  enroll->require_subcommand(1);
  auto* create = enroll->add_subcommand(
      "create", "Print a one-time token; the device presents it once with --enroll-token");
  add_data_dir_option(*create, common->data_dir);
  create->add_option("--name", *name, "The device's name (lowercase, digits, - _ .)")->required();
  create->add_option("--ttl", *ttl, "How long the token stays valid")->capture_default_str();
  create->add_flag("--json", common->json, "JSON output");
  create->callback([common, name, ttl, exit_code] {
    if (!valid_name(*name))
      throw CLI::ValidationError("--name", "1-63 characters: a-z 0-9 - _ . (not all digits)");
    if (reserved_device_name(*name))
      throw CLI::ValidationError("--name", "'" + *name +
                                               "' is reserved by the relay (SSH user names "
                                               "'device' and 'relay'); choose another name");
    auto lifetime = parse_duration(*ttl);
    if (!lifetime) throw CLI::ValidationError("--ttl", "expected a duration like 30m, 1h, 7d");
    auto db = open_db(common->data_dir);
    std::string token = keys::generate_enrollment_token();
    const Time now = utc_now();
    const std::string expires = iso8601_utc(now + *lifetime);
    db->create_enrollment(*name, keys::hash_token(token), now, now + *lifetime);
    if (common->json) {
      std::cout << nlohmann::json{{"name", *name}, {"token", token}, {"expires", expires}}.dump(2)
                << '\n';
    } else {
      std::cout << token << '\n';
      std::cerr << "One-time token for '" << *name << "', valid until " << expires
                << ".\nOn the device: device-agent run --relay HOST:PORT --data-dir DIR "
                   "--enroll-token "
                << token << '\n';
    }
    *exit_code = 0;
  });

  auto* list = enroll->add_subcommand("list", "List enrollment tokens (never the tokens)");
  add_data_dir_option(*list, common->data_dir);
  list->add_flag("--json", common->json, "JSON output");
  list->callback([common, exit_code] {
    auto db = open_db(common->data_dir);
    auto rows = db->list_enrollments();
    if (common->json) {
      auto out = nlohmann::json::array();
      for (const auto& e : rows)
        out.push_back({{"name", e.name},
                       {"created", iso8601_utc(e.created)},
                       {"expires", iso8601_utc(e.expires)},
                       {"used", iso_or_null(e.used)}});
      std::cout << out.dump(2) << '\n';
    } else {
      Table table({"NAME", "CREATED", "EXPIRES", "USED"});
      for (const auto& e : rows)
        table.add({e.name, iso8601_utc(e.created), iso8601_utc(e.expires), iso_or(e.used, "-")});
      table.print(std::cout);
    }
    *exit_code = 0;
  });
}

}  // namespace sb::relay::cli
