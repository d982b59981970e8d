// Test-only hook into the SQLite backend: plain SQL on a connection of its own, for rows and
// checks the store's API does not expose. Built as its own library (sb_relay_store_testing),
// which only the tests link; the relay never sees it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

struct sqlite3;

namespace sb::store::testing {

class RawSql {
 public:
  explicit RawSql(const std::filesystem::path& file);  // throws std::runtime_error
  ~RawSql();
  RawSql(const RawSql&) = delete;
  RawSql& operator=(const RawSql&) = delete;

  // Throws std::runtime_error with the statement and SQLite's message.
  void exec(const std::string& sql);
  // The first column of the first row: -1 (scalar) or "<none>" (text) without a row, "<null>"
  // (text) for NULL.
  std::int64_t scalar(const std::string& sql);
  std::string text(const std::string& sql);
  // For the backend's own white-box tests (migrations).
  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// A full disk for the store: from the first DiskFull on, every SQLite connection this process
// opens goes through a VFS that passes everything to the default one, except that while the
// disk is "full" each write fails with SQLITE_FULL (as SQLite reports ENOSPC). Reads work.
class DiskFull {
 public:
  DiskFull();   // installs the VFS (once per process); the disk is not full yet
  ~DiskFull();  // the disk has room again
  DiskFull(const DiskFull&) = delete;
  DiskFull& operator=(const DiskFull&) = delete;

  void set(bool full);
  // Writes refused so far (by every DiskFull of the process).
  std::uint64_t refused() const;
};

}  // namespace sb::store::testing
