// RAII prepared statements (see sql.hpp).
#include "relay/store/sql.hpp"

#include <cstring>
#include <limits>

namespace sb::store::detail {

void throw_sqlite(sqlite3* db, int rc, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  // sqlite3_errmsg describes the most recent failure on this connection; fall back on the
  // generic text for the code when there is no connection.
  std::string reason = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int code = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  // The system's word on an I/O failure says which one ("No space left on device").
  if (const int err = db != nullptr ? sqlite3_system_errno(db) : 0;
      err != 0 && ((code & 0xff) == SQLITE_IOERR || (code & 0xff) == SQLITE_FULL))
    reason += " (" + std::string(std::strerror(err)) + ")";
  msg += reason;
  throw SqliteError(code, msg, std::move(reason));
}

namespace {
sqlite3_stmt* prepare(sqlite3* db, std::string_view sql) {
  if (sql.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw std::invalid_argument("SQL text too long");
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    throw_sqlite(db, rc, "prepare `" + std::string(sql.substr(0, 60)) + "`");
  }
  return stmt;
}
}  // namespace

Statement::Statement(SqliteDb& db, std::string_view sql) : db_(db.db_) {
  auto [it, inserted] = db.statements_.try_emplace(std::string(sql));
  SqliteDb::CachedStatement& entry = it->second;
  if (entry.in_use) {
    stmt_ = prepare(db_, sql);
    return;
  }
  if (entry.stmt == nullptr) {
    try {
      entry.stmt = prepare(db_, sql);
    } catch (...) {
      db.statements_.erase(it);
      throw;
    }
  }
  entry.in_use = true;
  stmt_ = entry.stmt;
  cached_ = &entry;
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db), stmt_(prepare(db, sql)) {}

Statement::~Statement() {
  if (cached_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    cached_->in_use = false;
  } else {
    sqlite3_finalize(stmt_);
  }
}

Statement& Statement::bind(int index, std::string_view text) {
  const int rc =
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind_opt(int index, std::string_view text) {
  return text.empty() ? bind_null(index) : bind(index, text);
}

Statement& Statement::bind_json(int index, const nlohmann::json& value) {
  if (value.is_null()) return bind(index, std::string_view("{}"));
  return bind(index, dump_json(value));
}

Statement& Statement::bind(int index, Time t) {
  return bind(index, iso8601_utc(t));
}

Statement& Statement::bind_opt(int index, const std::optional<Time>& t) {
  return t ? bind(index, *t) : bind_null(index);
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_sqlite(db_, rc, "step");
}

int Statement::run() {
  while (step()) {
  }
  return sqlite3_changes(db_);
}

std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::int64_t Statement::int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

nlohmann::json Statement::json(int column) const {
  if (is_null(column)) return nlohmann::json::object();
  auto value = nlohmann::json::parse(text(column), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return nlohmann::json::object();
  return value;
}

std::optional<Time> Statement::opt_time(int column) const {
  if (is_null(column)) return std::nullopt;
  return parse_time(text(column));
}

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sb::store::detail
