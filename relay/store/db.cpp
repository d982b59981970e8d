// SqliteDb: opening the file, connection settings, transactions, small pragmas.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "relay/store/migrations.hpp"
#include "relay/store/sql.hpp"

namespace sb::store {

using detail::SqliteError;
using detail::Statement;

namespace {

// Creates the file (mode 0600, whatever the umask) if it does not exist yet, so that SQLite,
// which gives its -wal and -shm files the database file's mode, never makes them readable by
// others either.
void create_private_file(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    throw std::runtime_error("cannot create database " + file.string() + ": " +
                             std::strerror(errno));
  }
  if (::fchmod(fd, 0600) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error("cannot set mode 0600 on " + file.string() + ": " +
                             std::strerror(err));
  }
  ::close(fd);
}

// Flags writes to the tables behind the KeySnapshot, so the Store reloads it after its batch.
void on_update(void* self, int /*op*/, const char* /*database*/, const char* table,
               sqlite3_int64 /*rowid*/) {
  if (std::strcmp(table, "devices") == 0 || std::strcmp(table, "operators") == 0 ||
      std::strcmp(table, "grants") == 0 || std::strcmp(table, "device_groups") == 0) {
    *static_cast<bool*>(self) = true;
  }
}

std::string describe_open_failure(const std::filesystem::path& file, const SqliteError& e) {
  switch (e.primary_code()) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return "database " + file.string() + " is corrupt or not a SQLite database (" + e.what() +
             "); restore it from a backup or move it aside and run `relay init`";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "database " + file.string() + " is locked by another process (" + e.what() + ")";
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return "cannot open database " + file.string() + " for writing (" + e.what() + ")";
    default:
      return "cannot open database " + file.string() + ": " + e.what();
  }
}

}  // namespace

std::unique_ptr<Db> Db::open(const std::filesystem::path& file, bool create) {
  return SqliteDb::open(file, create);
}

std::unique_ptr<SqliteDb> SqliteDb::open(const std::filesystem::path& file, bool create) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(file, ec);
  if (ec) throw std::runtime_error("cannot access " + file.string() + ": " + ec.message());
  if (!exists) {
    if (!create) {
      throw std::runtime_error("no database at " + file.string() +
                               ": run `relay init --data-dir DIR` first");
    }
    create_private_file(file);
  } else if (std::filesystem::is_directory(file, ec)) {
    throw std::runtime_error("cannot open database " + file.string() + ": it is a directory");
  }

  sqlite3* handle = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(file.c_str(), &handle, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = handle != nullptr ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    sqlite3_close(handle);
    throw std::runtime_error("cannot open database " + file.string() + ": " + msg);
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(handle));
  db->file_ = file;

  try {
    // The busy timeout first: switching to WAL needs a lock another process may hold.
    db->exec("PRAGMA busy_timeout = 5000");
    // The first statement that reads the file: a corrupt or foreign file fails here.
    {
      Statement st(handle, "PRAGMA journal_mode = WAL");
      const std::string mode = st.step() ? st.text(0) : "";
      if (mode != "wal") {
        throw std::runtime_error("database " + file.string() +
                                 ": cannot switch to WAL journal mode (got '" + mode + "')");
      }
    }
    db->exec("PRAGMA synchronous = NORMAL");
    db->exec("PRAGMA foreign_keys = ON");
    // A version-0 file that already has tables is some other program's database.
    if (detail::user_version(handle) == 0) {
      Statement st(handle, "SELECT count(*) FROM sqlite_schema");
      if (st.step() && st.int64(0) > 0) {
        throw std::runtime_error("database " + file.string() +
                                 " is not a switchboard database (it has tables but no schema "
                                 "version)");
      }
    }
    db->migrate();
  } catch (const SqliteError& e) {
    throw std::runtime_error(describe_open_failure(file, e));
  }
  sqlite3_update_hook(handle, &on_update, &db->keys_dirty_);
  spdlog::debug("store: opened {} (schema version {})", file.string(), db->schema_version());
  return db;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, entry] : statements_) sqlite3_finalize(entry.stmt);
  statements_.clear();
  if (sqlite3_close(db_) != SQLITE_OK) {
    spdlog::error("store: closing {}: {}", file_.string(), sqlite3_errmsg(db_));
    sqlite3_close_v2(db_);
  }
}

void SqliteDb::migrate() {
  try {
    detail::apply_migrations(db_, detail::schema_migrations());
  } catch (const SqliteError&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error("database " + file_.string() + ": " + e.what());
  }
}

int SqliteDb::schema_version() {
  return detail::user_version(db_);
}

int Db::latest_schema_version() {
  return detail::schema_migrations().back().version;
}

std::int64_t SqliteDb::data_version() {
  Statement st(*this, "PRAGMA data_version");
  return st.step() ? st.int64(0) : 0;
}

bool SqliteDb::keys_changed() {
  const std::int64_t version = data_version();
  if (version == keys_version_seen_ && !keys_dirty_) return false;
  keys_version_seen_ = version;
  keys_dirty_ = false;
  return true;
}

bool SqliteDb::transaction_lost() {
  return tx_depth_ > 0 && sqlite3_get_autocommit(db_) != 0;
}

void SqliteDb::exec(const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = std::string(sql) + ": " + (err != nullptr ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    throw SqliteError(sqlite3_extended_errcode(db_), msg);
  }
}

void SqliteDb::transaction(const std::function<void()>& fn) {
  // The control statements are cached like any other: the Store runs one SAVEPOINT per job.
  if (tx_depth_ == 0) {
    Statement(*this, "BEGIN IMMEDIATE").run();
    tx_depth_ = 1;
    try {
      fn();
      Statement(*this, "COMMIT").run();
    } catch (...) {
      tx_depth_ = 0;
      after_commit_.clear();
      // SQLite may already have rolled back by itself (disk full, I/O error).
      if (sqlite3_get_autocommit(db_) == 0)
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    tx_depth_ = 0;
    run_after_commit();
    return;
  }
  if (sqlite3_get_autocommit(db_) != 0) {
    // The enclosing transaction is gone: a savepoint now would start a new one on its own.
    throw std::runtime_error("store: the enclosing transaction was rolled back by an error");
  }
  Statement(*this, "SAVEPOINT sb_nested").run();
  ++tx_depth_;
  const std::size_t hooks_before = after_commit_.size();
  try {
    fn();
  } catch (...) {
    --tx_depth_;
    after_commit_.resize(hooks_before);  // the undone work's hooks never run
    if (sqlite3_get_autocommit(db_) == 0) {
      sqlite3_exec(db_, "ROLLBACK TO sb_nested; RELEASE sb_nested", nullptr, nullptr, nullptr);
    }
    throw;
  }
  --tx_depth_;
  Statement(*this, "RELEASE sb_nested").run();
}

void SqliteDb::after_commit(std::function<void()> fn) {
  if (tx_depth_ == 0) {
    fn();
    return;
  }
  after_commit_.push_back(std::move(fn));
}

// The transaction is committed whatever a hook does: a hook's failure is logged, not thrown.
void SqliteDb::run_after_commit() {
  auto hooks = std::exchange(after_commit_, {});
  for (auto& hook : hooks) {
    try {
      hook();
    } catch (const std::exception& e) {
      spdlog::error("store: after a commit: {}", e.what());
    }
  }
}

}  // namespace sb::store
