// `relay session list|show|kill`: device sessions, one per tunnel connection. list and show read
// the database directly (WAL lets them read while `relay serve` writes); kill asks the running
// relay through its control socket.
#include <iostream>

#include "common/names.hpp"
#include "common/table.hpp"
#include "common/util.hpp"
#include "relay/admin/audit_view.hpp"
#include "relay/admin/cli.hpp"
#include "relay/admin/row_json.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/store/store.hpp"

namespace sb::relay::cli {

namespace {

using nlohmann::json;

struct SessionShowArgs {
  std::string data_dir;
  std::string id;
  bool all = false;
  bool json = false;
};

void print_sessions(store::Db& db, bool active_only, bool as_json) {
  auto rows = db.list_sessions(active_only);
  if (as_json) {
    std::cout << json(rows).dump(2) << '\n';
    return;
  }
  Table table({"SESSION", "DEVICE", "KIND", "FROM", "STARTED", "ENDED", "REASON"});
  for (const auto& s : rows)
    table.add({s.id, or_dash(s.device.empty() ? s.info.value("hostname", "") : s.device), s.kind,
               or_dash(s.source_addr), iso8601_utc(s.started),
               s.ended ? iso8601_utc(*s.ended) : live_state(s, iso8601_utc),
               or_dash(s.end_reason)});
  table.print(std::cout);
}

void add_session_list(CLI::App& session, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto active = std::make_shared<bool>(false);
  auto* list = session.add_subcommand("list", "List sessions, newest first");
  add_data_dir_option(*list, common->data_dir);
  list->add_flag("--active", *active, "Only live sessions");
  list->add_flag("--json", common->json, "JSON output");
  list->callback([common, active, exit_code] {
    print_sessions(*open_db(common->data_dir), *active, common->json);
    *exit_code = 0;
  });
}

void show_session(const SessionShowArgs& args) {
  auto stories = open_db(args.data_dir)->session_stories(args.id, args.all);
  if (stories.empty()) {
    throw std::runtime_error("no session " + format_session_id(args.id) +
                             " in the database (never issued, or pruned by "
                             "--audit-retention)");
  }
  if (args.json) {
    // One story, or with --all an array of every session that had the ID.
    const json out = args.all ? json(stories) : json(stories.front());
    std::cout << out.dump(2) << '\n';
    return;
  }
  for (std::size_t i = 0; i < stories.size(); ++i) {
    if (i > 0) std::cout << "\n" << std::string(72, '-') << "\n\n";
    print_session_story(stories[i], std::cout);
  }
}

void add_session_show(CLI::App& session, int* exit_code) {
  auto args = std::make_shared<SessionShowArgs>();
  auto* show = session.add_subcommand(
      "show",
      "The whole story of one session: device, source, start, end and why; each operator's "
      "attachment with its channels (commands, exit codes, forwards, bytes); its events and "
      "recordings. A session ID can be issued again after its session ended: the latest "
      "session is shown, or every one with --all.");
  add_data_dir_option(*show, args->data_dir);
  show->add_option("ID", args->id, "Session ID, e.g. 482913075 or '482 913 075'")
      ->required()
      ->transform(session_id_validator());
  show->add_flag("--all", args->all, "Every session that had this ID, newest first");
  show->add_flag("--json", args->json, "JSON output (times in UTC)");
  show->callback([args, exit_code] {
    show_session(*args);
    *exit_code = 0;
  });
}

std::string joined(const json& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n.get<std::string>();
  return out;
}

void add_session_kill(CLI::App& session, int* exit_code) {
  auto common = std::make_shared<Common>();
  auto id = std::make_shared<std::string>();
  auto op = std::make_shared<std::string>();
  auto* kill = session.add_subcommand(
      "kill",
      "End a live session now: every attached operator sees \"session ended by the "
      "administrator\" and is disconnected, the device's tunnel is closed (an enrolled device "
      "reconnects with a new session ID). With --operator, only that operator is removed. "
      "Needs the running relay.");
  add_data_dir_option(*kill, common->data_dir);
  kill->add_option("ID", *id, "Session ID (482913075 or \"482 913 075\")")->required();
  kill->add_option("--operator", *op, "End only this operator's attachment");
  kill->callback([common, id, op, exit_code] {
    auto session_id = parse_session_id(*id);
    if (!session_id) throw CLI::ValidationError("ID", "a session ID has nine digits");
    if (!op->empty() && !valid_name(*op))
      throw CLI::ValidationError("--operator", "not a valid operator name");
    json request{{"cmd", "session.kill"}, {"session", *session_id}, {"by", invoking_user()}};
    if (!op->empty()) request["operator"] = *op;
    json reply = ask_running_relay(DataDir{common->data_dir}, request);
    if (!reply.value("ok", false)) {
      std::cerr << "relay: " << reply.value("error", "the relay refused") << '\n';
      *exit_code = 1;
      return;
    }
    const std::string spoken = format_session_id(*session_id);
    if (!op->empty())
      std::cout << "Ended " << *op << "'s attachment to session " << spoken << '\n';
    else if (reply["operators"].empty())
      std::cout << "Ended session " << spoken << " (no operator was attached)\n";
    else
      std::cout << "Ended session " << spoken << " and disconnected " << joined(reply["operators"])
                << '\n';
    *exit_code = 0;
  });
}

}  // namespace

void add_session(CLI::App& app, int* exit_code) {
  auto* session = app.add_subcommand("session", "Device sessions (one per tunnel connection)");
  session->require_subcommand(1);
  add_session_list(*session, exit_code);
  add_session_show(*session, exit_code);
  add_session_kill(*session, exit_code);
}

}  // namespace sb::relay::cli
