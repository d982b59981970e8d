// The audit event log.
#include <string>
#include <vector>

#include "relay/store/sql.hpp"
#include "relay/store/store.hpp"

namespace sb::store {

using detail::Statement;

void Db::add_event(const std::string& kind, const std::string& actor, const nlohmann::json& detail,
                   const std::string& when) {
  // One statement: atomic on its own, so no transaction of its own (cheap inside a batch).
  Statement(*this, "INSERT INTO events (time, kind, actor, detail_json) VALUES (?1, ?2, ?3, ?4)")
      .bind(1, when)
      .bind(2, kind)
      .bind_opt(3, actor)
      .bind_json(4, detail)
      .run();
}

std::vector<nlohmann::json> Db::list_events(const std::string& kind_prefix, int limit) {
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
