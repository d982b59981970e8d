// Groups of enrolled devices: membership, and what the key snapshot needs to apply grants to a
// group ("@GROUP") to every device in it, present and future.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/names.hpp"
#include "relay/store/sql.hpp"
#include "relay/store/store.hpp"

namespace sb::store {

using detail::Statement;

namespace {

void require_device(SqliteDb& db, const std::string& device) {
  Statement st(db, "SELECT 1 FROM devices WHERE name = ?1");
  st.bind(1, device);
  if (!st.step())
    throw std::runtime_error("no enrolled device named '" + device + "' (see `relay device list`)");
}

void require_groups(const std::vector<std::string>& groups) {
  for (const std::string& group : groups)
    if (!valid_name(group))
      throw std::invalid_argument("'" + group + "' is not a valid group name");
}

std::int64_t group_count(SqliteDb& db, const std::string& device) {
  Statement st(db, "SELECT count(*) FROM device_groups WHERE device = ?1");
  st.bind(1, device);
  return st.step() ? st.int64(0) : 0;
}

}  // namespace

bool KeySnapshot::may_join(const std::string& operator_name, const std::string& device) const {
  if (grants.count({operator_name, device})) return true;
  auto groups = groups_by_device.find(device);
  if (groups == groups_by_device.end()) return false;
  for (const std::string& group : groups->second)
    if (grants.count({operator_name, kGroupGrantPrefix + group})) return true;
  return false;
}

std::vector<std::string> SqliteDb::change_device_groups(
    const std::string& device, const std::vector<std::string>& groups,
    const std::function<int(const std::string& group)>& change, const EventKind& kind,
    const std::string& by, Time when, const std::function<void()>& check) {
  require_groups(groups);
  std::vector<std::string> changed;
  transaction([&] {
    require_device(*this, device);
    for (const std::string& group : groups) {
      if (change(group) == 0) continue;
      changed.push_back(group);
      add_event(kind, "admin:" + by, {{"device", device}, {"group", group}, {"by", by}}, when);
    }
    if (check) check();
  });
  return changed;
}

std::vector<std::string> SqliteDb::add_device_groups(const std::string& device,
                                                     const std::vector<std::string>& groups,
                                                     const std::string& by, Time when) {
  auto insert = [&](const std::string& group) {
    return Statement(*this,
                     "INSERT OR IGNORE INTO device_groups (device, grp, added) VALUES (?1, ?2, ?3)")
        .bind(1, device)
        .bind(2, group)
        .bind(3, when)
        .run();
  };
  auto at_most_the_limit = [&] {
    if (static_cast<std::size_t>(group_count(*this, device)) > kMaxGroupsPerDevice)
      throw std::runtime_error("device '" + device + "' would be in more than " +
                               std::to_string(kMaxGroupsPerDevice) + " groups");
  };
  return change_device_groups(device, groups, insert, events::kDeviceGrouped, by, when,
                              at_most_the_limit);
}

std::vector<std::string> SqliteDb::remove_device_groups(const std::string& device,
                                                        const std::vector<std::string>& groups,
                                                        const std::string& by, Time when) {
  auto remove = [&](const std::string& group) {
    return Statement(*this, "DELETE FROM device_groups WHERE device = ?1 AND grp = ?2")
        .bind(1, device)
        .bind(2, group)
        .run();
  };
  return change_device_groups(device, groups, remove, events::kDeviceUngrouped, by, when, {});
}

void SqliteDb::load_group_snapshot(KeySnapshot& snapshot) {
  Statement st(*this, "SELECT device, grp FROM device_groups ORDER BY device, grp");
  while (st.step()) {
    std::string device = st.text(0);
    std::string group = st.text(1);
    snapshot.devices_by_group[group].push_back(device);
    snapshot.groups_by_device[device].push_back(std::move(group));
  }
  for (auto& [group, devices] : snapshot.devices_by_group)
    std::sort(devices.begin(), devices.end());
}

std::vector<std::string> SqliteDb::groups_of(const std::string& device) {
  Statement st(*this, "SELECT grp FROM device_groups WHERE device = ?1 ORDER BY grp");
  st.bind(1, device);
  std::vector<std::string> groups;
  while (st.step()) groups.push_back(st.text(0));
  return groups;
}

}  // namespace sb::store
