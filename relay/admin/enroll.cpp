// `relay enroll create|list|revoke`: tokens that enroll devices. A token names one device
// (--name, single use: the default), or enrolls up to --max-uses devices, each named after its
// hostname (--name-from-hostname); either may put its devices in a group.
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
  bool from_hostname = false;
  std::string group;
  int max_uses = 1;
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

void check_create_args(const CreateArgs& args) {
  if (args.name.empty() == !args.from_hostname)
    throw CLI::ValidationError("--name", "give either --name NAME or --name-from-hostname");
  if (!args.name.empty()) require_device_name(args.name);
  if (!args.name.empty() && args.max_uses != 1)
    throw CLI::ValidationError("--max-uses",
                               "a token for one named device has one use; use "
                               "--name-from-hostname to enroll several devices");
  if (!args.group.empty()) require_name(args.group, "--group");
}

std::string describe_token(const CreateArgs& args) {
  std::string what = args.from_hostname
                         ? (args.max_uses == 1 ? "a token for one device"
                                               : "a token for up to " +
                                                     std::to_string(args.max_uses) + " devices") +
                               std::string(", each named after its hostname")
                         : "a one-time token for '" + args.name + "'";
  if (!args.group.empty()) what += ", in group '" + args.group + "'";
  return what;
}

// Stores the token's hash only: the token itself is shown once, here.
void create_token(const CreateArgs& args) {
  check_create_args(args);
  auto db = open_db(args.data_dir);
  std::string token = keys::generate_enrollment_token();
  const Time now = utc_now();
  const Time expiry = now + checked_duration(args.ttl);
  const std::string expires = iso8601_utc(expiry);
  const std::string id = db->create_enrollment(
      {args.name, args.group, args.max_uses, keys::hash_token(token), now, expiry});
  if (args.json) {
    nlohmann::json out{
        {"id", id},           {"name", args.name},         {"token", token},
        {"expires", expires}, {"max_uses", args.max_uses}, {"from_hostname", args.from_hostname}};
    out["group"] = args.group.empty() ? nlohmann::json() : nlohmann::json(args.group);
    std::cout << out.dump(2) << '\n';
    return;
  }
  std::cout << token << '\n';
  std::string what = describe_token(args);
  what[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(what[0])));
  std::cerr << what << " (ID " << id << "), valid until " << expires
            << ".\nOn the device: device-agent run --relay HOST:PORT --data-dir DIR "
               "--enroll-token "
            << token << "\nTo withdraw it: relay enroll revoke " << id << '\n';
}

void add_enroll_create(CLI::App& enroll, int* exit_code) {
  auto args = std::make_shared<CreateArgs>();
  auto* create = enroll.add_subcommand(
      "create",
      "Print an enrollment token; a device presents it once with --enroll-token. With --name, "
      "it enrolls that one device (single use). With --name-from-hostname, it enrolls up to "
      "--max-uses devices, each named after the hostname its agent reports (lowercased; "
      "'-2', '-3', ... added when the name is taken), or after the agent's own --name if it "
      "gives one.");
  add_data_dir_option(*create, args->data_dir);
  auto* name = create->add_option("--name", args->name,
                                  "The device's name (lowercase, digits, - _ .): one device");
  auto* from_hostname = create->add_flag("--name-from-hostname", args->from_hostname,
                                         "Name each device after its hostname");
  name->excludes(from_hostname);
  create
      ->add_option("--max-uses", args->max_uses,
                   "How many devices the token may enroll (with --name-from-hostname)")
      ->check(CLI::Range(1, store::kMaxEnrollUses))
      ->capture_default_str();
  create->add_option("--group", args->group,
                     "Put each device it enrolls in this group (grants to @GROUP apply to it)");
  create->add_option("--ttl", args->ttl, "How long the token stays valid")
      ->check(duration_validator())
      ->capture_default_str();
  create->add_flag("--json", args->json, "JSON output");
  create->callback([args, exit_code] {
    create_token(*args);
    *exit_code = 0;
  });
}

std::string token_state(const store::EnrollmentRow& e, Time now) {
  if (e.revoked) return "revoked";
  if (e.uses >= e.max_uses) return "used";
  if (e.expires < now) return "expired";
  return "active";
}

void print_enrollments(store::Db& db, bool as_json) {
  auto rows = db.list_enrollments();
  const Time now = utc_now();
  if (as_json) {
    auto out = nlohmann::json::array();
    for (const auto& e : rows) {
      nlohmann::json j = e;
      j["uses_left"] = e.uses_left(now);
      j["state"] = token_state(e, now);
      out.push_back(std::move(j));
    }
    std::cout << out.dump(2) << '\n';
    return;
  }
  Table table({"ID", "NAME", "GROUP", "USES", "LEFT", "STATE", "CREATED", "EXPIRES", "LAST USED"});
  for (const auto& e : rows)
    table.add({e.id, e.name.empty() ? "(hostname)" : e.name, or_dash(e.group),
               std::to_string(e.uses) + "/" + std::to_string(e.max_uses),
               std::to_string(e.uses_left(now)), token_state(e, now), iso8601_utc(e.created),
               iso8601_utc(e.expires), iso_or(e.used, "-")});
  table.print(std::cout);
}

void add_enroll_list(CLI::App& enroll, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto* list = enroll.add_subcommand(
      "list", "List enrollment tokens (never the tokens): ID, uses taken and left, state");
  add_data_dir_option(*list, common->data_dir);
  list->add_flag("--json", common->json, "JSON output");
  list->callback([common, exit_code] {
    print_enrollments(*open_db(common->data_dir), common->json);
    *exit_code = 0;
  });
}

void add_enroll_revoke(CLI::App& enroll, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto id = std::make_shared<std::string>();
  auto* revoke = enroll.add_subcommand(
      "revoke",
      "Withdraw a token's remaining uses (devices it already enrolled stay enrolled; revoke "
      "those with `relay device revoke NAME`)");
  add_data_dir_option(*revoke, common->data_dir);
  revoke->add_option("TOKEN_ID", *id, "The token's ID, as `relay enroll list` shows it")
      ->required();
  revoke->callback([common, id, exit_code] {
    if (id->empty() || id->size() > 64 || !valid_label(*id, 64))
      throw CLI::ValidationError("TOKEN_ID", "not a token ID (see `relay enroll list`)");
    if (!open_db(common->data_dir)->revoke_enrollment(*id, invoking_user(), utc_now())) {
      std::cerr << "relay: no enrollment token with ID " << *id << " (see `relay enroll list`)\n";
      *exit_code = 1;
      return;
    }
    std::cout << "Revoked enrollment token " << *id << ": no device can enroll with it now\n";
    *exit_code = 0;
  });
}

}  // namespace

void add_enroll(CLI::App& app, int* exit_code) {
  auto* enroll = app.add_subcommand("enroll", "Tokens that enroll devices under a name");
  enroll->require_subcommand(1);
  add_enroll_create(*enroll, exit_code);
  add_enroll_list(*enroll, exit_code);
  add_enroll_revoke(*enroll, exit_code);
}

}  // namespace sb::relay::cli
