// The audit event log.
#include <string>
#include <vector>

#include "relay/store/sql.hpp"
#include "relay/store/store.hpp"

namespace sb::store {

using detail::Statement;

namespace {

// detail[key] as text for an indexed column: strings as they are, numbers in decimal (a session
// ID may arrive as a number), "" (stored as NULL) for anything else.
std::string column_value(const nlohmann::json& detail, const char* key) {
  if (!detail.is_object()) return {};
  auto it = detail.find(key);
  if (it == detail.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return it->dump();
  return {};
}

}  // namespace

void SqliteDb::add_event(const EventKind& kind, const std::string& actor,
                         const nlohmann::json& detail, Time when) {
  // One statement: atomic on its own, so no transaction of its own (cheap inside a batch).
  Statement(*this,
            "INSERT INTO events (time, kind, actor, detail_json, session_id, device, operator) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
      .bind(1, when)
      .bind(2, kind.name)
      .bind_opt(3, actor)
      .bind_json(4, detail)
      .bind_opt(5, column_value(detail, "session"))
      .bind_opt(6, column_value(detail, "device"))
      .bind_opt(7, column_value(detail, "operator"))
      .run();
}

std::vector<nlohmann::json> SqliteDb::list_events(const std::string& kind_prefix, int limit) {
  // A prefix match as a range [prefix, prefix with its last byte incremented), which the index
  // on kind can serve and which needs no LIKE escaping.
  std::string upper = kind_prefix;
  while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff) upper.pop_back();
  if (!upper.empty())
    upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);

  Statement st(*this,
               "SELECT time, kind, actor, detail_json FROM events "
               "WHERE (?1 = '' OR (kind >= ?1 AND (?2 = '' OR kind < ?2))) "
               "ORDER BY time DESC, id DESC LIMIT ?3");
  st.bind(1, kind_prefix).bind(2, upper).bind(3, limit > 0 ? limit : -1);
  std::vector<nlohmann::json> rows;
  while (st.step()) {
    rows.push_back({{"time", st.text(0)},
                    {"kind", st.text(1)},
                    {"actor", st.text(2)},
                    {"detail", st.json(3)}});
  }
  return rows;
}

}  // namespace sb::store
