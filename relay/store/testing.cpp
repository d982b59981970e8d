#include "relay/store/testing.hpp"

#include <sqlite3.h>

#include <stdexcept>

namespace sb::store::testing {

namespace {

// A statement that is finalized whatever happens; throws if it does not prepare.
class Query {
 public:
  Query(sqlite3* db, const std::string& sql) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr) != SQLITE_OK) {
      sqlite3_finalize(st_);
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db));
    }
  }
  ~Query() { sqlite3_finalize(st_); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  bool row() { return st_ != nullptr && sqlite3_step(st_) == SQLITE_ROW; }
  sqlite3_stmt* get() { return st_; }

 private:
  sqlite3_stmt* st_ = nullptr;
};

}  // namespace

RawSql::RawSql(const std::filesystem::path& file) {
  if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) {
    std::string msg = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open " + file.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
}

RawSql::~RawSql() {
  sqlite3_close(db_);
}

void RawSql::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = sql + ": " + (err != nullptr ? err : sqlite3_errmsg(db_));
    sqlite3_free(err);
    throw std::runtime_error(msg);
  }
}

std::int64_t RawSql::scalar(const std::string& sql) {
  Query q(db_, sql);
  return q.row() ? sqlite3_column_int64(q.get(), 0) : -1;
}

std::string RawSql::text(const std::string& sql) {
  Query q(db_, sql);
  if (!q.row()) return "<none>";
  const auto* p = sqlite3_column_text(q.get(), 0);
  return p != nullptr ? reinterpret_cast<const char*>(p) : "<null>";
}

}  // namespace sb::store::testing
