// Small helpers shared by unit tests: a scratch directory and file modes.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "common/time.hpp"
#include "relay/store/testing.hpp"

namespace sb::test {

// Load tests post fewer jobs in the sanitized build: each job there costs several times as much,
// and what they check (posters never wait on the writer, batches interleave) shows at a quarter
// of the count. The normal build keeps the full counts.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr int kLoadDivisor = 4;
#else
inline constexpr int kLoadDivisor = 1;
#endif

// Plain SQL on a connection of its own, for rows and checks the store's API does not expose.
inline void exec_sql(const std::filesystem::path& db, const std::string& text) {
  try {
    store::testing::RawSql(db).exec(text);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
}

// 2026-11-22T03:00:00.000Z plus `ms` milliseconds: explicit test times, as Time (at) and as
// the store's text (at_iso, for raw SQL).
inline std::string at_iso(std::int64_t ms) {
  const std::time_t base = 1795316400;  // 2026-11-22T03:00:00Z
  const std::time_t secs = base + static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}
// A time written out in full, "2026-11-22T03:00:00.000Z".
inline Time utc(const std::string& iso) {
  return *parse_time(iso);
}

inline Time at(std::int64_t ms) {
  return *parse_time(at_iso(ms));
}

// A directory under /tmp, removed with its contents when the test is done.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sb-unit-test-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

}  // namespace sb::test
