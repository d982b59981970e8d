// Internal to the store: RAII prepared statements and small SQLite helpers. Nothing outside
// relay/store/ includes this file.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "common/time.hpp"
#include "relay/store/sqlite_db.hpp"

namespace sb::store::detail {

// A failed SQLite call; what() carries SQLite's message, code() the extended result code.
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& what, std::string reason = {})
      : std::runtime_error(what), code_(code), reason_(std::move(reason)) {}
  int code() const { return code_; }
  // What the database said, without the statement: "disk I/O error (File too large)".
  std::string reason() const { return reason_.empty() ? std::string(what()) : reason_; }
  int primary_code() const { return code_ & 0xff; }
  // The disk (not the SQL) refused: full, an I/O error, a file size limit, a lock held too
  // long. The transaction is undone and the same work may succeed later.
  bool refused_by_storage() const {
    const int c = primary_code();
    return c == SQLITE_FULL || c == SQLITE_IOERR || c == SQLITE_CANTOPEN || c == SQLITE_BUSY;
  }

 private:
  int code_;
  std::string reason_;
};

// Throws SqliteError built from the connection's last error.
[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view context);

// One prepared statement. Statements built with a SqliteDb are cached on that connection (prepared
// once, reset and unbound when this object dies); if the cached one is already in use (a
// nested call), a private statement is prepared and finalized instead.
class Statement {
 public:
  Statement(SqliteDb& db, std::string_view sql);
  Statement(sqlite3* db, std::string_view sql);  // never cached
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite.
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const std::string& text) {
    return bind(index, std::string_view(text));
  }
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind_null(int index);
  // Binds NULL for an empty string (optional TEXT columns).
  Statement& bind_opt(int index, std::string_view text);
  Statement& bind_json(int index, const nlohmann::json& value);
  // Times are stored as ISO-8601 UTC text (iso8601_utc), which sorts as the times do.
  Statement& bind(int index, Time t);
  // Binds NULL for nullopt.
  Statement& bind_opt(int index, const std::optional<Time>& t);

  // True when a row is available, false when done; throws SqliteError otherwise.
  bool step();
  // Steps to completion; returns sqlite3_changes() of the statement.
  int run();

  // Columns are 0-based. NULL reads as "" / 0.
  std::string text(int column) const;
  std::int64_t int64(int column) const;
  bool is_null(int column) const;
  // Parses a JSON column; a NULL or unparsable value reads as an empty object.
  nlohmann::json json(int column) const;
  // A time column; NULL or unparsable text reads as nullopt (time()) or the epoch (time()).
  std::optional<Time> opt_time(int column) const;
  Time time(int column) const { return opt_time(column).value_or(Time{}); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  SqliteDb::CachedStatement* cached_ = nullptr;  // null when this object owns stmt_
};

// The columns of a SessionRow, in the order read_session() reads them, for a query on `sessions`
// (not aliased). The last is when a live session's device went away while its ID is held for a
// resume: the session's latest device.interrupted, unless a device.resumed came after it.
const std::string& session_columns();
SessionRow read_session(const Statement& st);

// JSON text for storage: invalid UTF-8 in strings is replaced, never thrown on.
std::string dump_json(const nlohmann::json& value);

// A caller's argument the store refuses (std::invalid_argument with `what`).
inline void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}

}  // namespace sb::store::detail
