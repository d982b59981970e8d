// Sessions and their tunnel keys: issue, end, crash purge, orphan sweep, reads.
#include <algorithm>
#include <array>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "relay/store/audit_events.hpp"
#include "relay/store/sql.hpp"
#include "relay/store/store.hpp"

namespace sb::store {

using detail::read_session;
using detail::require;
using detail::session_columns;
using detail::Statement;
using nlohmann::json;

namespace {

// Ends the open channels and attachments of one session (or of every session when
// session_id is null).
void end_attachments(SqliteDb& db, const std::string* session_id, const std::string& reason,
                     Time when) {
  if (session_id != nullptr) {
    Statement(db,
              "UPDATE channels SET ended = ?1 WHERE ended IS NULL AND attachment IN "
              "(SELECT id FROM attachments WHERE session_id = ?2 AND ended IS NULL)")
        .bind(1, when)
        .bind(2, *session_id)
        .run();
    Statement(db,
              "UPDATE attachments SET ended = ?1, end_reason = ?2 "
              "WHERE session_id = ?3 AND ended IS NULL")
        .bind(1, when)
        .bind(2, reason)
        .bind(3, *session_id)
        .run();
  } else {
    Statement(db,
              "UPDATE channels SET ended = ?1 WHERE ended IS NULL AND attachment IN "
              "(SELECT id FROM attachments WHERE ended IS NULL)")
        .bind(1, when)
        .run();
    Statement(db, "UPDATE attachments SET ended = ?1, end_reason = ?2 WHERE ended IS NULL")
        .bind(1, when)
        .bind(2, reason)
        .run();
  }
}

std::int64_t ms_between(Time from, Time to) {
  return std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count());
}

// Each channel nobody closed (the relay died first) gets its end and a "channel.closed" event
// with what the store knows: the byte counts written while it ran, no exit status.
void close_left_open_channels(SqliteDb& db, const std::string& reason, Time when) {
  std::vector<std::pair<std::string, json>> closed;  // (operator, detail)
  {
    Statement st(db,
                 "SELECT c.id, c.attachment, c.kind, c.target, c.command, c.bytes_in, "
                 "c.bytes_out, c.started, a.session_id, a.operator, s.device FROM channels c "
                 "LEFT JOIN attachments a ON a.id = c.attachment LEFT JOIN sessions s "
                 "ON s.id = a.session_id AND s.ended IS NULL WHERE c.ended IS NULL ORDER BY c.id");
    while (st.step()) {
      json detail{{"session", st.text(8)},
                  {"device", st.text(10)},
                  {"operator", st.text(9)},
                  {"attachment", st.int64(1)},
                  {"channel", st.int64(0)},
                  {"kind", st.text(2)},
                  {"target", st.text(3)},
                  {"bytes_in", st.int64(5)},
                  {"bytes_out", st.int64(6)},
                  {"started", st.text(7)},
                  {"duration_ms", ms_between(st.time(7), when)},
                  {"reason", reason}};
      if (!st.is_null(4)) detail["command"] = st.text(4);
      closed.emplace_back(st.text(9), std::move(detail));
    }
  }
  Statement(db, "UPDATE channels SET ended = ?1 WHERE ended IS NULL").bind(1, when).run();
  for (const auto& [operator_name, detail] : closed)
    db.add_event(events::kChannelClosed, operator_name, detail, when);
}

// Each attachment left open gets its end and an "operator.detached" event.
void close_left_open_attachments(SqliteDb& db, const std::string& reason, Time when) {
  std::vector<std::pair<std::string, json>> detached;  // (operator, detail)
  {
    Statement st(db,
                 "SELECT a.id, a.session_id, a.operator, a.fingerprint, a.mode, a.source_addr, "
                 "a.started, s.device FROM attachments a LEFT JOIN sessions s "
                 "ON s.id = a.session_id AND s.ended IS NULL WHERE a.ended IS NULL ORDER BY a.id");
    while (st.step()) {
      json detail{{"session", st.text(1)},
                  {"device", st.text(7)},
                  {"operator", st.text(2)},
                  {"fingerprint", st.text(3)},
                  {"mode", st.text(4)},
                  {"source_addr", st.text(5)},
                  {"attachment", st.int64(0)},
                  {"reason", reason},
                  {"duration_ms", ms_between(st.time(6), when)}};
      detached.emplace_back(st.text(2), std::move(detail));
    }
  }
  end_attachments(db, nullptr, reason, when);
  for (const auto& [operator_name, detail] : detached)
    db.add_event(events::kOperatorDetached, operator_name, detail, when);
}

// Each session left open ends, with a "session.ended" event. Returns how many.
int end_left_open_sessions(SqliteDb& db, const std::string& reason, Time when) {
  std::vector<std::array<std::string, 3>> ended;  // id, device, fingerprint
  {
    Statement st(db, "SELECT id, device, fingerprint FROM sessions WHERE ended IS NULL");
    while (st.step()) ended.push_back({st.text(0), st.text(1), st.text(2)});
  }
  Statement(db, "UPDATE sessions SET ended = ?1, end_reason = ?2 WHERE ended IS NULL")
      .bind(1, when)
      .bind(2, reason)
      .run();
  for (const auto& [id, device, fingerprint] : ended) {
    db.add_event(events::kSessionEnded, fingerprint,
                 {{"session", id}, {"device", device}, {"reason", reason}}, when);
  }
  return static_cast<int>(ended.size());
}

}  // namespace

void SqliteDb::insert_session(const SessionStart& s) {
  require(!s.id.empty(), "insert_session: empty session id");
  require(!s.fingerprint.empty(), "insert_session: empty fingerprint");
  require(!s.kind.empty(), "insert_session: empty kind");
  require(s.started != Time{}, "insert_session: no start time");
  transaction([&] {
    Statement(*this,
              "INSERT INTO sessions (id, device, fingerprint, kind, source_addr, started, "
              "info_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .bind(1, s.id)
        .bind_opt(2, s.device)
        .bind(3, s.fingerprint)
        .bind(4, s.kind)
        .bind_opt(5, s.source_addr)
        .bind(6, s.started)
        .bind_json(7, s.info)
        .run();
    Statement(*this,
              "INSERT INTO tunnel_keys (fingerprint, key, device, session_id, since) "
              "VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(1, s.fingerprint)
        .bind_opt(2, s.key)
        .bind_opt(3, s.device)
        .bind(4, s.id)
        .bind(5, s.started)
        .run();
    if (!s.device.empty()) {
      Statement(*this,
                "UPDATE devices SET status = 'online', last_seen = ?1 "
                "WHERE name = ?2 AND status != 'revoked'")
          .bind(1, s.started)
          .bind(2, s.device)
          .run();
    }
    add_event(
        events::kSessionIssued, s.fingerprint,
        {{"session", s.id}, {"device", s.device}, {"kind", s.kind}, {"source_addr", s.source_addr}},
        s.started);
  });
}

void SqliteDb::end_session(const std::string& id, const std::string& reason, Time when) {
  transaction([&] {
    std::string started, device, fingerprint;
    {
      Statement st(*this,
                   "SELECT started, device, fingerprint FROM sessions "
                   "WHERE id = ?1 AND ended IS NULL");
      st.bind(1, id);
      if (!st.step()) return;  // unknown or already ended
      started = st.text(0);
      device = st.text(1);
      fingerprint = st.text(2);
    }
    Statement(*this,
              "UPDATE sessions SET ended = ?1, end_reason = ?2 WHERE id = ?3 AND started = ?4")
        .bind(1, when)
        .bind(2, reason)
        .bind(3, id)
        .bind(4, started)
        .run();
    json purged = json::array();
    {
      Statement st(*this, "DELETE FROM tunnel_keys WHERE session_id = ?1 RETURNING fingerprint");
      st.bind(1, id);
      while (st.step()) purged.push_back(st.text(0));
    }
    end_attachments(*this, &id, reason, when);
    if (!device.empty()) {
      // Offline only if no other live session holds the device (a reconnect may already have
      // opened a new one before the janitor noticed the old tunnel gone).
      Statement(*this,
                "UPDATE devices SET status = 'offline', last_seen = ?1 "
                "WHERE name = ?2 AND status != 'revoked' AND NOT EXISTS "
                "(SELECT 1 FROM sessions WHERE device = ?2 AND ended IS NULL)")
          .bind(1, when)
          .bind(2, device)
          .run();
    }
    add_event(events::kSessionEnded, fingerprint,
              {{"session", id}, {"device", device}, {"reason", reason}}, when);
    if (!purged.empty()) {
      add_event(events::kKeysPurged, fingerprint, {{"session", id}, {"fingerprints", purged}},
                when);
    }
  });
}

int SqliteDb::purge_stale(const std::string& reason, Time when) {
  int sessions_ended = 0;
  int keys_purged = 0;
  transaction([&] {
    close_left_open_channels(*this, reason, when);
    close_left_open_attachments(*this, reason, when);
    sessions_ended = end_left_open_sessions(*this, reason, when);
    keys_purged = Statement(*this, "DELETE FROM tunnel_keys WHERE 1").run();
    // last_seen is left alone: the relay did not see these devices at `when`.
    Statement(*this, "UPDATE devices SET status = 'offline' WHERE status = 'online'").run();
    add_event(
        events::kJanitorPurge, "",
        {{"sessions_ended", sessions_ended}, {"keys_purged", keys_purged}, {"reason", reason}},
        when);
  });
  return sessions_ended;
}

int SqliteDb::purge_orphan_tunnel_keys(Time when) {
  int removed = 0;
  transaction([&] {
    json purged = json::array();
    json sessions = json::array();
    {
      Statement st(
          *this,
          "DELETE FROM tunnel_keys WHERE session_id NOT IN "
          "(SELECT id FROM sessions WHERE ended IS NULL) RETURNING fingerprint, session_id");
      while (st.step()) {
        purged.push_back(st.text(0));
        sessions.push_back(st.text(1));
      }
    }
    removed = static_cast<int>(purged.size());
    if (removed > 0) {
      add_event(events::kKeysPurged, "",
                {{"reason", "orphan"}, {"sessions", sessions}, {"fingerprints", purged}}, when);
    }
  });
  return removed;
}

std::vector<SessionRow> SqliteDb::list_sessions(bool active_only) {
  const std::string sql = std::string("SELECT ") + session_columns() + " FROM sessions" +
                          (active_only ? " WHERE ended IS NULL" : "") +
                          " ORDER BY started DESC, rowid DESC";
  Statement st(*this, sql);
  std::vector<SessionRow> rows;
  while (st.step()) rows.push_back(read_session(st));
  return rows;
}

std::optional<SessionRow> SqliteDb::find_session(const std::string& id) {
  Statement st(*this, std::string("SELECT ") + session_columns() +
                          " FROM sessions WHERE id = ?1 "
                          "ORDER BY (ended IS NULL) DESC, started DESC LIMIT 1");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_session(st);
}

std::vector<TunnelKeyRow> SqliteDb::list_tunnel_keys() {
  Statement st(*this,
               "SELECT fingerprint, device, session_id, since FROM tunnel_keys "
               "ORDER BY since, rowid");
  std::vector<TunnelKeyRow> rows;
  while (st.step()) {
    rows.push_back({st.text(0), st.text(1), st.text(2), st.time(3)});
  }
  return rows;
}

namespace detail {

const std::string& session_columns() {
  // Only live sessions look at their events (an ended one is never held); the newest of the two
  // kinds comes first along the index on (session_id, time).
  static const std::string interrupted(events::kDeviceInterrupted.name);
  static const std::string resumed(events::kDeviceResumed.name);
  static const std::string columns =
      "id, device, fingerprint, kind, source_addr, started, ended, end_reason, info_json, "
      "CASE WHEN ended IS NULL THEN (SELECT CASE e.kind WHEN '" +
      interrupted +
      "' THEN e.time END FROM events e WHERE e.session_id = sessions.id AND e.time >= "
      "sessions.started AND e.kind IN ('" +
      interrupted + "', '" + resumed + "') ORDER BY e.time DESC, e.id DESC LIMIT 1) END";
  return columns;
}

SessionRow read_session(const Statement& st) {
  SessionRow row;
  row.id = st.text(0);
  row.device = st.text(1);
  row.fingerprint = st.text(2);
  row.kind = st.text(3);
  row.source_addr = st.text(4);
  row.started = st.time(5);
  row.ended = st.opt_time(6);
  row.end_reason = st.text(7);
  row.info = st.json(8);
  row.held_since = st.opt_time(9);
  return row;
}

}  // namespace detail

}  // namespace sb::store
