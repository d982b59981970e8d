// The audit's admin verbs: `relay audit`, `relay session show`, `relay device show`. Read-only:
// they open the database directly (WAL lets them read while `relay serve` writes).
#include <iostream>

#include "common/util.hpp"
#include "common/util_time.hpp"
#include "relay/admin/audit_view.hpp"
#include "relay/admin/cli.hpp"
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

struct ShowArgs {
  std::string data_dir;
  std::string target;  // session ID or device name
  int recent = 10;
  bool all = false;
  bool json = false;
};

// Validates --since/--until where they enter; the store gets UTC ISO-8601 text.
CLI::Validator time_spec_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (parse_time_spec(text, std::chrono::system_clock::now())) return {};
        return "'" + text + "' is not a time; use one of: " + kTimeSpecForms;
      },
      "TIME");
}

CLI::Validator session_id_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (auto id = parse_session_id(text)) {
          text = *id;
          return {};
        }
        return "'" + text + "' is not a session ID (nine digits, e.g. 482913075 or '482 913 075')";
      },
      "SESSION_ID");
}

std::string to_store_time(const std::string& spec) {
  if (spec.empty()) return {};
  return iso8601_utc(*parse_time_spec(spec, std::chrono::system_clock::now()));
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
    auto out = nlohmann::json::array();
    for (const auto& row : page.rows) out.push_back(audit_row_json(row));
    std::cout << out.dump(2) << '\n';
    return;
  }
  print_audit_table(page, std::cout);
  if (page.rows.empty() && page.total > 0) {
    std::cout << "(page " << page.page << " is past the last page, " << page.pages << ")\n";
  }
}

void add_audit_verb(CLI::App& app, int* exit_code) {
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

void show_session(const ShowArgs& args) {
  auto stories = open_db(args.data_dir)->session_stories(args.target, args.all);
  if (stories.empty()) {
    throw std::runtime_error("no session " + format_session_id(args.target) +
                             " in the database (never issued, or pruned by "
                             "--audit-retention)");
  }
  if (args.json) {
    if (!args.all) {
      std::cout << session_story_json(stories.front()).dump(2) << '\n';
      return;
    }
    auto out = nlohmann::json::array();
    for (const auto& story : stories) out.push_back(session_story_json(story));
    std::cout << out.dump(2) << '\n';
    return;
  }
  for (std::size_t i = 0; i < stories.size(); ++i) {
    if (i > 0) std::cout << "\n" << std::string(72, '-') << "\n\n";
    print_session_story(stories[i], std::cout);
  }
}

void show_device(const ShowArgs& args) {
  auto story = open_db(args.data_dir)->device_story(args.target, args.recent);
  if (!story) {
    throw std::runtime_error("no enrolled device named '" + args.target +
                             "' (see `relay device list`)");
  }
  if (args.json) {
    std::cout << device_story_json(*story).dump(2) << '\n';
  } else {
    print_device_story(*story, std::cout);
  }
}

}  // namespace

void add_audit(CLI::App& app, int* exit_code) {
  add_audit_verb(app, exit_code);

  // `show` joins the `session` and `device` groups registered by add_lists.
  auto session_args = std::make_shared<ShowArgs>();
  auto* session = app.get_subcommand("session")->add_subcommand(
      "show",
      "The whole story of one session: device, source, start, end and why; each operator's "
      "attachment with its channels (commands, exit codes, forwards, bytes); its events and "
      "recordings. A session ID can be issued again after its session ended: the latest "
      "session is shown, or every one with --all.");
  add_data_dir_option(*session, session_args->data_dir);
  session->add_option("ID", session_args->target, "Session ID, e.g. 482913075 or '482 913 075'")
      ->required()
      ->transform(session_id_validator());
  session->add_flag("--all", session_args->all, "Every session that had this ID, newest first");
  session->add_flag("--json", session_args->json, "JSON output (times in UTC)");
  session->callback([session_args, exit_code] {
    show_session(*session_args);
    *exit_code = 0;
  });

  auto device_args = std::make_shared<ShowArgs>();
  auto* device = app.get_subcommand("device")->add_subcommand(
      "show",
      "One enrolled device: status (online, offline, revoked), last seen, address, OS, agent "
      "version, the operators granted to it and its recent sessions with who attached.");
  add_data_dir_option(*device, device_args->data_dir);
  device->add_option("NAME", device_args->target, "Enrolled device name")->required();
  device->add_option("--sessions", device_args->recent, "How many recent sessions to list")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  device->add_flag("--json", device_args->json, "JSON output (times in UTC)");
  device->callback([device_args, exit_code] {
    show_device(*device_args);
    *exit_code = 0;
  });
}

}  // namespace sb::relay::cli
