// `relay audit`: who did what, when and from where. Read-only: it opens the database directly
// (WAL lets it read while `relay serve` writes).
#include <iostream>

#include "common/time.hpp"
#include "common/util.hpp"
#include "relay/admin/audit_view.hpp"
#include "relay/admin/cli.hpp"
#include "relay/admin/row_json.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"

namespace sb::relay::cli {

namespace {

struct AuditArgs {
  std::string data_dir;
  std::string device;
  std::string operator_name;
  std::string session;
  std::string since;
  std::string until;
  std::vector<std::string> kinds;
  int limit = 50;
  int page = 1;
  bool reverse = false;
  bool json = false;
};

// Validates --since/--until where they enter; the store gets a Time.
CLI::Validator time_spec_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (parse_time_spec(text, std::chrono::system_clock::now())) return {};
        return "'" + text + "' is not a time; use one of: " + kTimeSpecForms;
      },
      "TIME");
}

std::optional<Time> to_store_time(const std::string& spec) {
  if (spec.empty()) return std::nullopt;
  return std::chrono::floor<std::chrono::milliseconds>(
      *parse_time_spec(spec, std::chrono::system_clock::now()));
}

void run_audit(const AuditArgs& args) {
  store::AuditFilter filter;
  filter.device = args.device;
  filter.operator_name = args.operator_name;
  filter.session = args.session;
  filter.since = to_store_time(args.since);
  filter.until = to_store_time(args.until);
  filter.kinds = args.kinds;
  filter.limit = args.limit;
  filter.page = args.page;
  filter.oldest_first = args.reverse;
  const store::AuditPage page = open_db(args.data_dir)->query_audit(filter);
  if (args.json) {
    std::cout << nlohmann::json(page.rows).dump(2) << '\n';
    return;
  }
  print_audit_table(page, std::cout);
  if (page.rows.empty() && page.total > 0) {
    std::cout << "(page " << page.page << " is past the last page, " << page.pages << ")\n";
  }
}

}  // namespace

void add_audit(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<AuditArgs>();
  auto* verb = app.add_subcommand(
      "audit",
      "Who did what, when and from where: sessions, attachments, commands with their exit "
      "codes, forwards and bytes moved, consent answers, refusals. Newest first, 50 rows a "
      "page; filters combine (AND). Times are shown in local time.\n"
      "Examples:\n"
      "  relay audit --device web-01 --since 2026-11-01\n"
      "  relay audit --operator alice --since 2h --kind channel,consent\n"
      "  relay audit --session 482913075 --reverse --json");
  add_data_dir_option(*verb, args->data_dir);
  verb->add_option("--device", args->device, "Only events about this enrolled device");
  verb->add_option("--operator", args->operator_name, "Only events about this operator");
  verb->add_option("--session", args->session, "Only events of this session ID")
      ->transform(session_id_validator());
  verb->add_option("--since", args->since,
                   std::string("From this time on (inclusive): ") + kTimeSpecForms)
      ->check(time_spec_validator());
  verb->add_option("--until", args->until,
                   "Before this time (exclusive); same forms as --since, e.g. --since yesterday "
                   "--until today is all of yesterday")
      ->check(time_spec_validator());
  verb->add_option("--kind", args->kinds,
                   "Event kinds starting with this (repeatable or comma list): session, "
                   "operator.attached, channel, consent, auth, recording, ...")
      ->delimiter(',');
  verb->add_option("--limit", args->limit, "Rows per page")
      ->check(CLI::Range(1, store::kMaxAuditLimit))
      ->capture_default_str();
  verb->add_option("--page", args->page,
                   "Page to show (1 = the newest rows, or the oldest "
                   "with --reverse)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  verb->add_flag("--reverse", args->reverse, "Oldest first (a timeline)");
  verb->add_flag("--json", args->json,
                 "JSON array: id, time (UTC), kind, actor, session, device, operator, detail");
  verb->callback([args, exit_code] {
    run_audit(*args);
    *exit_code = 0;
  });
}

}  // namespace sb::relay::cli
