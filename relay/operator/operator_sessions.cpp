#include "relay/operator/operator_sessions.hpp"

#include <algorithm>
#include <map>
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
  // grants is ordered by (operator, target): this operator's grants are one sorted run.
  std::set<std::string> names;
  for (auto it = keys.grants.lower_bound({operator_name, ""});
       it != keys.grants.end() && it->first == operator_name && names.size() < kMaxListedDevices;
       ++it) {
    const std::string& target = it->second;
    if (target.empty() || target.front() != store::kGroupGrantPrefix) {
      names.insert(target);
      continue;
    }
    auto members = keys.devices_by_group.find(target.substr(1));
    if (members == keys.devices_by_group.end()) continue;
    for (const std::string& device : members->second) {
      if (names.size() >= kMaxListedDevices) break;
      names.insert(device);
    }
  }
  std::vector<GrantedDevice> out;
  for (const std::string& name : names) {
    GrantedDevice device{name, "offline", "", {}};
    if (!enrolled.count(device.name)) {
      device.status = revoked.count(device.name) ? "revoked" : "not enrolled";
    } else if (auto id = live_session_of(device.name)) {
      device.status = "online";
      device.session_id = *id;
    }
    if (auto groups = keys.groups_by_device.find(name); groups != keys.groups_by_device.end())
      device.groups = groups->second;
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
           {"session_id", d.session_id.empty() ? nlohmann::json() : nlohmann::json(d.session_id)},
           {"groups", d.groups}});
    return rows.dump(2) + "\n";
  }
  auto session_of = [](const GrantedDevice& d) {
    return d.session_id.empty() ? std::string("-") : format_session_id(d.session_id);
  };
  std::ostringstream text;
  const bool grouped = std::any_of(devices.begin(), devices.end(),
                                   [](const GrantedDevice& d) { return !d.groups.empty(); });
  if (!grouped) {
    Table table({"DEVICE", "STATUS", "SESSION"});
    for (const auto& d : devices) table.add({d.name, d.status, session_of(d)});
    table.print(text);
    return text.str();
  }
  std::map<std::string, std::vector<const GrantedDevice*>> by_group;
  std::vector<const GrantedDevice*> ungrouped;
  for (const auto& d : devices) {
    if (d.groups.empty()) ungrouped.push_back(&d);
    for (const auto& g : d.groups) by_group[g].push_back(&d);
  }
  Table table({"GROUP", "DEVICE", "STATUS", "SESSION"});
  for (const auto& [group, members] : by_group)
    for (const GrantedDevice* d : members) table.add({group, d->name, d->status, session_of(*d)});
  for (const GrantedDevice* d : ungrouped) table.add({"-", d->name, d->status, session_of(*d)});
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
