// Internal to the store: the versioned schema. Each step brings the database from version
// `version - 1` to `version`; steps are applied in order, each in its own transaction, and
// PRAGMA user_version records the result. To change the schema, append a step: never edit one
// that has shipped.
#pragma once
#include <sqlite3.h>

#include <span>

namespace sb::store::detail {

struct Migration {
  int version;      // 1, 2, 3, ... with no gaps
  const char* sql;  // one or more statements, no parameters
};

// The relay's schema, oldest step first.
std::span<const Migration> schema_migrations();

// Applies every step newer than the database's user_version. Each step and its user_version
// update commit together, so a failed step leaves the previous version intact. Throws
// std::runtime_error if the database is newer than the last step, or if a step fails.
// Returns the resulting version.
int apply_migrations(sqlite3* db, std::span<const Migration> steps);

// PRAGMA user_version.
int user_version(sqlite3* db);

}  // namespace sb::store::detail
