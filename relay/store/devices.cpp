// Enrolled devices: status updates, reads and the key snapshot for authentication.
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "relay/store/sql.hpp"
#include "relay/store/store.hpp"

namespace sb::store {

using detail::Statement;

namespace {

constexpr const char* kDeviceColumns =
    "name, fingerprint, key, enrolled, status, last_seen, info_json";

DeviceRow read_device(const Statement& st) {
  DeviceRow row;
  row.name = st.text(0);
  row.fingerprint = st.text(1);
  row.key = st.text(2);
  row.enrolled = st.time(3);
  row.status = st.text(4);
  row.last_seen = st.opt_time(5);
  row.info = st.json(6);
  return row;
}

}  // namespace

void SqliteDb::device_seen(const std::string& name, const std::string& status,
                           const nlohmann::json& info, Time when) {
  if (status != "online" && status != "offline" && status != "revoked") {
    throw std::invalid_argument("device_seen: unknown status '" + status + "'");
  }
  // A revoked device stays revoked whatever its agent reports; only "revoked" itself is
  // applied to it. Empty or null info keeps the stored info.
  const bool keep_info = info.is_null() || (info.is_object() && info.empty());
  const int changed = Statement(*this,
                                "UPDATE devices SET "
                                "status = CASE WHEN status = 'revoked' THEN status ELSE ?1 END, "
                                "last_seen = ?2, "
                                "info_json = CASE WHEN ?3 IS NULL THEN info_json ELSE ?3 END "
                                "WHERE name = ?4")
                          .bind(1, status)
                          .bind(2, when)
                          .bind_opt(3, keep_info ? std::string() : detail::dump_json(info))
                          .bind(4, name)
                          .run();
  if (changed == 0) spdlog::debug("store: device_seen for unknown device '{}'", name);
}

std::vector<DeviceRow> SqliteDb::list_devices() {
  Statement st(*this, std::string("SELECT ") + kDeviceColumns + " FROM devices ORDER BY name");
  std::vector<DeviceRow> rows;
  while (st.step()) rows.push_back(read_device(st));
  KeySnapshot groups;
  load_group_snapshot(groups);
  for (DeviceRow& row : rows)
    if (auto it = groups.groups_by_device.find(row.name); it != groups.groups_by_device.end())
      row.groups = it->second;
  return rows;
}

std::optional<DeviceRow> SqliteDb::find_device(const std::string& name) {
  Statement st(*this, std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE name = ?1");
  st.bind(1, name);
  if (!st.step()) return std::nullopt;
  DeviceRow row = read_device(st);
  row.groups = groups_of(name);
  return row;
}

KeySnapshot SqliteDb::load_key_snapshot() {
  KeySnapshot snap;
  Statement st(*this, "SELECT fingerprint, name, status FROM devices");
  while (st.step()) {
    auto& map = st.text(2) == "revoked" ? snap.revoked_by_fingerprint : snap.device_by_fingerprint;
    map.emplace(st.text(0), st.text(1));
  }
  load_operator_snapshot(snap);
  load_group_snapshot(snap);
  // Changes when another connection commits; the Store numbers the snapshots it publishes.
  snap.version = data_version();
  return snap;
}

}  // namespace sb::store
