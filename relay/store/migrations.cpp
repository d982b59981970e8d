// The versioned schema and the code that applies it.
#include "relay/store/migrations.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>

#include "relay/store/sql.hpp"

namespace sb::store::detail {

namespace {

// Version 1. Times are TEXT, ISO-8601 UTC with milliseconds ("2026-11-22T03:23:27.123Z"), so
// they sort as text.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE operators (
  name        TEXT PRIMARY KEY,
  key         TEXT NOT NULL,
  fingerprint TEXT UNIQUE NOT NULL,
  added       TEXT NOT NULL
);
CREATE TABLE grants (
  operator TEXT NOT NULL REFERENCES operators(name) ON DELETE CASCADE,
  device   TEXT NOT NULL,
  added    TEXT NOT NULL,
  PRIMARY KEY (operator, device)
);
CREATE TABLE devices (
  name        TEXT PRIMARY KEY,
  key         TEXT NOT NULL,
  fingerprint TEXT UNIQUE NOT NULL,
  enrolled    TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'offline',
  last_seen   TEXT,
  info_json   TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE enrollments (
  token_hash TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  created    TEXT NOT NULL,
  expires    TEXT NOT NULL,
  used       TEXT,
  used_by    TEXT
);
CREATE TABLE sessions (
  id          TEXT NOT NULL,
  device      TEXT,
  fingerprint TEXT NOT NULL,
  kind        TEXT NOT NULL,
  source_addr TEXT,
  started     TEXT NOT NULL,
  ended       TEXT,
  end_reason  TEXT,
  info_json   TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (id, started)
);
-- Session IDs are unique among live sessions only; an ID may come back after its session ended.
CREATE UNIQUE INDEX sessions_live_id ON sessions(id) WHERE ended IS NULL;
CREATE INDEX sessions_ended ON sessions(ended);
CREATE INDEX sessions_device_started ON sessions(device, started);
CREATE TABLE tunnel_keys (
  fingerprint TEXT NOT NULL,
  key         TEXT,
  device      TEXT,
  session_id  TEXT NOT NULL,
  since       TEXT NOT NULL
);
CREATE INDEX tunnel_keys_session ON tunnel_keys(session_id);
CREATE TABLE attachments (
  id          INTEGER PRIMARY KEY,
  session_id  TEXT NOT NULL,
  operator    TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  mode        TEXT NOT NULL,
  source_addr TEXT,
  started     TEXT NOT NULL,
  ended       TEXT,
  end_reason  TEXT
);
CREATE INDEX attachments_session ON attachments(session_id);
CREATE TABLE channels (
  id          INTEGER PRIMARY KEY,
  attachment  INTEGER REFERENCES attachments(id),
  kind        TEXT NOT NULL,
  target      TEXT,
  command     TEXT,
  exit_status INTEGER,
  exit_signal TEXT,
  bytes_in    INTEGER DEFAULT 0,
  bytes_out   INTEGER DEFAULT 0,
  started     TEXT NOT NULL,
  ended       TEXT
);
CREATE INDEX channels_attachment ON channels(attachment);
CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  time        TEXT NOT NULL,
  kind        TEXT NOT NULL,
  actor       TEXT,
  detail_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_time ON events(time);
CREATE INDEX events_kind ON events(kind);
)sql";

// Version 2: the audit. Events carry the session, device and operator they concern in indexed
// columns (copied from detail_json by SqliteDb::add_event, backfilled here), so `relay audit`
// filters without parsing JSON; attachments are found by operator; recordings by session.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE events ADD COLUMN session_id TEXT;
ALTER TABLE events ADD COLUMN device TEXT;
ALTER TABLE events ADD COLUMN operator TEXT;
UPDATE events SET
  session_id = NULLIF(CAST(json_extract(detail_json, '$.session') AS TEXT), ''),
  device     = NULLIF(CAST(json_extract(detail_json, '$.device') AS TEXT), ''),
  operator   = NULLIF(CAST(json_extract(detail_json, '$.operator') AS TEXT), '')
WHERE json_valid(detail_json);
CREATE INDEX events_session_time ON events(session_id, time);
CREATE INDEX events_device_time ON events(device, time);
CREATE INDEX events_operator_time ON events(operator, time);
CREATE INDEX attachments_operator ON attachments(operator, started);
CREATE INDEX attachments_ended ON attachments(ended);
)sql";

// Version 3: tokens for many devices, and groups. A token has a public ID (the head of its
// hash, so tokens stored before have one too), a number of uses and an optional group; name ''
// names each device after its hostname. Devices join groups by name, like grants, so a revoked
// name enrolled again keeps its groups. Grants to a group live in grants, device '@GROUP'.
constexpr const char* kSchemaV3 = R"sql(
ALTER TABLE enrollments ADD COLUMN id TEXT;
UPDATE enrollments SET id = substr(token_hash, 1, 12);
CREATE UNIQUE INDEX enrollments_id ON enrollments(id);
ALTER TABLE enrollments ADD COLUMN max_uses INTEGER NOT NULL DEFAULT 1;
ALTER TABLE enrollments ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
UPDATE enrollments SET uses = 1 WHERE used IS NOT NULL;
ALTER TABLE enrollments ADD COLUMN device_group TEXT;
ALTER TABLE enrollments ADD COLUMN revoked TEXT;
CREATE INDEX enrollments_name ON enrollments(name);
CREATE TABLE device_groups (
  device TEXT NOT NULL,
  grp    TEXT NOT NULL,
  added  TEXT NOT NULL,
  PRIMARY KEY (device, grp)
);
CREATE INDEX device_groups_grp ON device_groups(grp, device);
)sql";

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
    {2, kSchemaV2},
    {3, kSchemaV3},
};

void exec(sqlite3* db, const std::string& sql, std::string_view context) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw SqliteError(rc, std::string(context) + ": " + msg);
  }
}

}  // namespace

std::span<const Migration> schema_migrations() {
  return kMigrations;
}

int user_version(sqlite3* db) {
  Statement st(db, "PRAGMA user_version");
  return st.step() ? static_cast<int>(st.int64(0)) : 0;
}

int apply_migrations(sqlite3* db, std::span<const Migration> steps) {
  const int latest = steps.empty() ? 0 : steps.back().version;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].version != static_cast<int>(i) + 1) {
      throw std::logic_error("schema migrations must be numbered 1, 2, 3, ...");
    }
  }
  int version = user_version(db);
  if (version > latest) {
    throw std::runtime_error("schema version " + std::to_string(version) +
                             " is newer than this build of switchboard supports (" +
                             std::to_string(latest) +
                             "): refusing to open it; upgrade switchboard");
  }
  for (const Migration& step : steps) {
    if (step.version <= version) continue;
    // IMMEDIATE: a second process opening the same file at the same moment waits here, then
    // sees the version this one wrote and skips the step.
    exec(db, "BEGIN IMMEDIATE", "cannot start schema migration");
    try {
      const int now = user_version(db);
      if (now >= step.version) {
        exec(db, "COMMIT", "schema migration");
        version = now;
        continue;
      }
      exec(db, step.sql, "schema migration to version " + std::to_string(step.version));
      // PRAGMA takes no bound parameters; the value is a constant of this program.
      exec(db, "PRAGMA user_version = " + std::to_string(step.version), "schema migration");
      exec(db, "COMMIT", "schema migration");
    } catch (...) {
      if (sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    spdlog::info("store: database schema migrated to version {}", step.version);
    version = step.version;
  }
  return version;
}

}  // namespace sb::store::detail
