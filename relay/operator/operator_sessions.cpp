#include "relay/operator/operator_sessions.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/names.hpp"
#include "common/table.hpp"
#include "common/util.hpp"

namespace sb::relay {

namespace {
constexpr std::size_t kMaxQueryCommand = 256;

std::set<std::string> names_of(const std::unordered_map<std::string, std::string>& by_fp) {
  std::set<std::string> names;
  for (const auto& [fp, name] : by_fp) names.insert(name);
  return names;
}
}  // namespace

std::vector<GrantedDevice> granted_devices(const store::KeySnapshot& keys,
                                           const std::string& operator_name,
                                           const LiveSessionOf& live_session_of) {
  auto enrolled = names_of(keys.device_by_fingerprint);
  auto revoked = names_of(keys.revoked_by_fingerprint);
  std::vector<GrantedDevice> out;
  // grants is ordered by (operator, device): this operator's grants are one sorted run.
  for (auto it = keys.grants.lower_bound({operator_name, ""});
       it != keys.grants.end() && it->first == operator_name && out.size() < kMaxListedDevices;
       ++it) {
    GrantedDevice device{it->second, "offline", ""};
    if (!enrolled.count(device.name)) {
      device.status = revoked.count(device.name) ? "revoked" : "not enrolled";
    } else if (auto id = live_session_of(device.name)) {
      device.status = "online";
      device.session_id = *id;
    }
    out.push_back(std::move(device));
  }
  return out;
}

std::string render_granted_devices(const std::vector<GrantedDevice>& devices, bool json) {
  if (json) {
    auto rows = nlohmann::json::array();
    for (const auto& d : devices)
      rows.push_back(
          {{"device", d.name},
           {"status", d.status},
           {"session_id", d.session_id.empty() ? nlohmann::json() : nlohmann::json(d.session_id)}});
    return rows.dump(2) + "\n";
  }
  Table table({"DEVICE", "STATUS", "SESSION"});
  for (const auto& d : devices)
    table.add({d.name, d.status, d.session_id.empty() ? "-" : format_session_id(d.session_id)});
  std::ostringstream text;
  table.print(text);
  return text.str();
}

QueryRequest parse_query(const std::string& command) {
  QueryRequest request;
  if (command.size() > kMaxQueryCommand) return request;
  std::istringstream words(command);
  std::vector<std::string> argv;
  for (std::string word; words >> word;) argv.push_back(word);
  if (argv.empty() || argv[0] != "sessions" || argv.size() > 2) return request;
  if (argv.size() == 2 && argv[1] != "--json") return request;
  request.verb = QueryRequest::Verb::kSessions;
  request.json = argv.size() == 2;
  return request;
}

QueryAnswer unknown_query_answer(const std::string& command) {
  std::string shown = command.substr(0, 80);
  if (!valid_label(shown)) shown = "(unprintable)";
  std::string what = command.empty() ? "no shell here" : "unknown command '" + shown + "'";
  return {"",
          "switchboard: " + what +
              ". User 'relay' is the relay itself; it answers:\n"
              "  sessions          the devices you may join (a table)\n"
              "  sessions --json   the same, as JSON\n"
              "To join a device, use its session ID or name as the user name.\n",
          2};
}

}  // namespace sb::relay
