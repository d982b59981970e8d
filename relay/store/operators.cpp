// Operators (registered keys) and grants (which operator may join which enrolled device
// without the device's user being asked).
#include <stdexcept>
#include <string>
#include <vector>

#include "relay/store/sql.hpp"
#include "relay/store/store.hpp"

namespace sb::store {

using detail::Statement;

namespace {
// A group grant names its group, not a device (the audit's device column stays a device's).
nlohmann::json grant_detail(const std::string& operator_name, const std::string& target) {
  if (!target.empty() && target.front() == kGroupGrantPrefix)
    return {{"operator", operator_name}, {"group", target.substr(1)}};
  return {{"operator", operator_name}, {"device", target}};
}
}  // namespace

void SqliteDb::add_operator(const std::string& name, const std::string& key_line,
                            const std::string& fingerprint, Time when) {
  transaction([&] {
    Statement by_name(*this, "SELECT 1 FROM operators WHERE name = ?1");
    by_name.bind(1, name);
    if (by_name.step()) throw std::runtime_error("operator '" + name + "' already exists");
    Statement by_key(*this, "SELECT name FROM operators WHERE fingerprint = ?1");
    by_key.bind(1, fingerprint);
    if (by_key.step())
      throw std::runtime_error("that key already belongs to operator '" + by_key.text(0) + "'");
    Statement(*this,
              "INSERT INTO operators (name, key, fingerprint, added) VALUES (?1, ?2, ?3, ?4)")
        .bind(1, name)
        .bind(2, key_line)
        .bind(3, fingerprint)
        .bind(4, when)
        .run();
    add_event(events::kOperatorAdded, name, {{"operator", name}, {"fingerprint", fingerprint}},
              when);
  });
}

bool SqliteDb::remove_operator(const std::string& name, Time when) {
  bool removed = false;
  transaction([&] {
    removed = Statement(*this, "DELETE FROM operators WHERE name = ?1").bind(1, name).run() > 0;
    if (removed) add_event(events::kOperatorRemoved, name, {{"operator", name}}, when);
  });
  return removed;
}

std::vector<OperatorRow> SqliteDb::list_operators() {
  std::vector<OperatorRow> rows;
  Statement st(*this, "SELECT name, key, fingerprint, added FROM operators ORDER BY name");
  while (st.step()) rows.push_back({st.text(0), st.text(1), st.text(2), st.time(3)});
  return rows;
}

void SqliteDb::add_grant(const std::string& operator_name, const std::string& device, Time when) {
  transaction([&] {
    Statement op(*this, "SELECT 1 FROM operators WHERE name = ?1");
    op.bind(1, operator_name);
    if (!op.step()) throw std::runtime_error("no operator named '" + operator_name + "'");
    Statement exists(*this, "SELECT 1 FROM grants WHERE operator = ?1 AND device = ?2");
    exists.bind(1, operator_name).bind(2, device);
    if (exists.step())
      throw std::runtime_error("operator '" + operator_name + "' already has a grant for '" +
                               device + "'");
    Statement(*this, "INSERT INTO grants (operator, device, added) VALUES (?1, ?2, ?3)")
        .bind(1, operator_name)
        .bind(2, device)
        .bind(3, when)
        .run();
    add_event(events::kGrantAdded, operator_name, grant_detail(operator_name, device), when);
  });
}

bool SqliteDb::remove_grant(const std::string& operator_name, const std::string& device,
                            Time when) {
  bool removed = false;
  transaction([&] {
    removed = Statement(*this, "DELETE FROM grants WHERE operator = ?1 AND device = ?2")
                  .bind(1, operator_name)
                  .bind(2, device)
                  .run() > 0;
    if (removed)
      add_event(events::kGrantRemoved, operator_name, grant_detail(operator_name, device), when);
  });
  return removed;
}

std::vector<GrantRow> SqliteDb::list_grants() {
  std::vector<GrantRow> rows;
  Statement st(*this, "SELECT operator, device, added FROM grants ORDER BY operator, device");
  while (st.step()) rows.push_back({st.text(0), st.text(1), st.time(2)});
  return rows;
}

void SqliteDb::load_operator_snapshot(KeySnapshot& snapshot) {
  Statement ops(*this, "SELECT fingerprint, name FROM operators");
  while (ops.step()) snapshot.operator_by_fingerprint.emplace(ops.text(0), ops.text(1));
  Statement grants(*this, "SELECT operator, device FROM grants");
  while (grants.step()) snapshot.grants.emplace(grants.text(0), grants.text(1));
}

}  // namespace sb::store
