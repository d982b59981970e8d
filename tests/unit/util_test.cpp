#include "common/util.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "common/logging.hpp"
#include "tests/unit/test_support.hpp"

namespace sb {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A fresh directory under /tmp, removed with everything in it.
using test::mode_of;
using test::TempDir;

TEST(Random, RandomBelowStaysInRange) {
  for (int i = 0; i < 1000; ++i) EXPECT_LT(random_below(7), 7u);
  EXPECT_EQ(random_below(1), 0u);
  EXPECT_THROW(random_below(0), std::invalid_argument);
}

TEST(Random, RandomBytesFillsLargeBuffers) {
  std::vector<std::uint8_t> buf(100000, 0);
  random_bytes(buf);
  std::size_t zeros = 0;
  for (auto b : buf) zeros += (b == 0);
  EXPECT_LT(zeros, 1000u);  // expected ~390
}

TEST(SessionId, GeneratedIdsAreNineDigitsFirstNonZero) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = generate_session_id();
    ASSERT_EQ(id.size(), kSessionIdDigits);
    EXPECT_NE(id[0], '0');
    for (char c : id) EXPECT_TRUE(c >= '0' && c <= '9') << id;
    EXPECT_EQ(parse_session_id(id), id);
    seen.insert(id);
  }
  EXPECT_GE(seen.size(), 995u);  // 9e8 possibilities: collisions are rare
}

TEST(SessionId, ParsesSpacesAndDashes) {
  EXPECT_EQ(parse_session_id("482913075"), "482913075");
  EXPECT_EQ(parse_session_id("482 913 075"), "482913075");
  EXPECT_EQ(parse_session_id("482-913-075"), "482913075");
  EXPECT_EQ(parse_session_id(" 48-29 13--075 "), "482913075");
}

TEST(SessionId, RejectsMalformed) {
  EXPECT_EQ(parse_session_id(""), std::nullopt);
  EXPECT_EQ(parse_session_id("48291307"), std::nullopt);    // 8 digits
  EXPECT_EQ(parse_session_id("4829130751"), std::nullopt);  // 10 digits
  EXPECT_EQ(parse_session_id("48291307a"), std::nullopt);
  EXPECT_EQ(parse_session_id("082913075"), std::nullopt);
  EXPECT_EQ(parse_session_id("482\t913\t075"), std::nullopt);
  EXPECT_EQ(parse_session_id("482.913.075"), std::nullopt);
  EXPECT_EQ(parse_session_id("４82913075"), std::nullopt);  // full-width digit
  EXPECT_EQ(parse_session_id(std::string(60, ' ') + "482913075"), std::nullopt);
  EXPECT_EQ(parse_session_id(std::string(100000, '1')), std::nullopt);
}

TEST(SessionId, Formats) {
  EXPECT_EQ(format_session_id("482913075"), "482 913 075");
  EXPECT_EQ(format_session_id("12345"), "12345");  // not an ID: shown unchanged
}

TEST(LineBuffer, SplitsAcrossAppends) {
  LineBuffer lb(100);
  EXPECT_TRUE(lb.append("hel"));
  EXPECT_EQ(lb.next_line(), std::nullopt);
  EXPECT_TRUE(lb.append("lo\nwor"));
  EXPECT_EQ(lb.next_line(), "hello");
  EXPECT_EQ(lb.next_line(), std::nullopt);
  EXPECT_EQ(lb.buffered(), 3u);
  EXPECT_TRUE(lb.append("ld\n\n"));
  EXPECT_EQ(lb.next_line(), "world");
  EXPECT_EQ(lb.next_line(), "");
  EXPECT_EQ(lb.next_line(), std::nullopt);
  EXPECT_EQ(lb.buffered(), 0u);
}

TEST(LineBuffer, StripsCrlf) {
  LineBuffer lb(100);
  EXPECT_TRUE(lb.append("a\r\nb\r"));
  EXPECT_TRUE(lb.append("\nc\rd\n"));
  EXPECT_EQ(lb.next_line(), "a");
  EXPECT_EQ(lb.next_line(), "b");
  EXPECT_EQ(lb.next_line(), "c\rd");
}

TEST(LineBuffer, ExactMaximumIsAccepted) {
  LineBuffer lb(8);
  EXPECT_TRUE(lb.append(std::string(8, 'x')));
  EXPECT_TRUE(lb.append("\n" + std::string(8, 'y') + "\r\n"));
  EXPECT_EQ(lb.next_line(), std::string(8, 'x'));
  EXPECT_EQ(lb.next_line(), std::string(8, 'y'));
  EXPECT_FALSE(lb.overflowed());
}

TEST(LineBuffer, OverflowsWithoutNewline) {
  LineBuffer lb(8);
  EXPECT_TRUE(lb.append("ok\n"));
  EXPECT_TRUE(lb.append(std::string(8, 'x')));
  EXPECT_FALSE(lb.append("x"));
  EXPECT_TRUE(lb.overflowed());
  EXPECT_FALSE(lb.append("\n"));
  EXPECT_EQ(lb.next_line(), std::nullopt);  // unusable after overflow
}

TEST(LineBuffer, OverflowsOnCompleteLongLine) {
  LineBuffer lb(8);
  EXPECT_FALSE(lb.append(std::string(9, 'x') + "\n"));
  EXPECT_TRUE(lb.overflowed());
}

TEST(LineBuffer, CarriageReturnIsOnlyFreeBeforeNewline) {
  LineBuffer lb(8);
  EXPECT_TRUE(lb.append(std::string(8, 'x') + "\r"));
  EXPECT_FALSE(lb.append("y"));
}

TEST(LineBuffer, ManyLinesKeepBufferSmall) {
  LineBuffer lb(64);
  std::size_t got = 0;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(lb.append("line " + std::to_string(i) + "\nhalf"));
    ASSERT_TRUE(lb.append(" done\n"));
    while (auto line = lb.next_line()) {
      EXPECT_EQ(*line, got % 2 == 0 ? "line " + std::to_string(got / 2) : "half done");
      ++got;
    }
    EXPECT_EQ(lb.buffered(), 0u);
  }
  EXPECT_EQ(got, 20000u);
}

TEST(LineBuffer, ManyLinesInOneAppend) {
  LineBuffer lb(10);
  std::string data;
  for (int i = 0; i < 1000; ++i) data += std::to_string(i) + "\n";
  ASSERT_TRUE(lb.append(data));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(lb.next_line(), std::to_string(i));
  EXPECT_EQ(lb.next_line(), std::nullopt);
}

TEST(Files, PrivateDirIsCreatedWith0700) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "a" / "b";
  ensure_private_dir(dir);
  EXPECT_TRUE(fs::is_directory(dir));
  EXPECT_EQ(mode_of(dir), 0700u);
  ensure_private_dir(dir);  // idempotent
}

TEST(Files, PrivateDirRefusesWorldWritable) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "open";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  try {
    ensure_private_dir(dir);
    FAIL() << "world-writable dir accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("0777"), std::string::npos) << e.what();
  }
}

TEST(Files, PrivateDirRefusesOtherOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory away";
  TempDir tmp;
  const fs::path dir = tmp.path() / "theirs";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
  try {
    ensure_private_dir(dir);
    FAIL() << "foreign dir accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "directory " + dir.string() +
                                         " is owned by uid 65534, not by uid 0 (you): run as "
                                         "the owner or choose another directory");
  }
}

TEST(Files, PrivateDirRefusesFile) {
  TempDir tmp;
  const fs::path file = tmp.path() / "f";
  write_file_atomic(file, "x");
  EXPECT_THROW(ensure_private_dir(file), std::runtime_error);
}

TEST(Files, AtomicWriteUsesModeAndReplaces) {
  TempDir tmp;
  const fs::path file = tmp.path() / "secret";
  const mode_t old_umask = ::umask(0);
  write_file_atomic(file, "first");
  ::umask(old_umask);
  EXPECT_EQ(mode_of(file), 0600u);
  write_file_atomic(file, "second", 0640);
  EXPECT_EQ(mode_of(file), 0640u);
  EXPECT_EQ(read_file_bounded(file, 100), "second");
  // No temporary files are left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);
}

TEST(Files, AtomicWriteReportsPathOnError) {
  TempDir tmp;
  const fs::path file = tmp.path() / "missing-dir" / "f";
  try {
    write_file_atomic(file, "x");
    FAIL() << "write into a missing directory succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing-dir"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
}

TEST(Files, ReadBoundedEnforcesLimit) {
  TempDir tmp;
  const fs::path file = tmp.path() / "data";
  write_file_atomic(file, std::string(100, 'z'));
  EXPECT_EQ(read_file_bounded(file, 100).size(), 100u);
  EXPECT_THROW(read_file_bounded(file, 99), std::runtime_error);
  write_file_atomic(file, "");
  EXPECT_EQ(read_file_bounded(file, 0), "");
  EXPECT_THROW(read_file_bounded(tmp.path() / "nope", 10), std::runtime_error);
  EXPECT_THROW(read_file_bounded(tmp.path(), 10), std::runtime_error);  // a directory
}

// Runs fn with stderr redirected to a file and returns what was written.
template <typename Fn>
std::string capture_stderr(Fn fn) {
  TempDir tmp;
  const fs::path file = tmp.path() / "stderr";
  std::fflush(stderr);
  const int saved = ::dup(2);
  std::FILE* f = std::fopen(file.c_str(), "w");
  ::dup2(::fileno(f), 2);
  fn();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::fclose(f);
  return read_file_bounded(file, 1 << 20);
}

TEST(Logging, RejectsUnknownLevel) {
  EXPECT_THROW(setup_logging("test", "verbose", false), std::invalid_argument);
  EXPECT_THROW(setup_logging("test", "", true), std::invalid_argument);
}

TEST(Logging, JsonLinesEscapeMessages) {
  const std::string out = capture_stderr([] {
    setup_logging("prog\"%", "info", true);
    spdlog::debug("hidden");
    spdlog::warn("say \"hi\" \\ {}\nnext", 42);
  });
  setup_logging("unit_tests", "warn", false);
  ASSERT_FALSE(out.empty());
  ASSERT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;  // exactly one line
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j.at("program"), "prog\"%");
  EXPECT_EQ(j.at("level"), "warning");
  EXPECT_EQ(j.at("msg"), "say \"hi\" \\ 42\nnext");
  EXPECT_EQ(j.at("time").get<std::string>().size(), 29u) << j.at("time");  // ...123+00:00
}

TEST(Logging, TextFormat) {
  const std::string out = capture_stderr([] {
    setup_logging("relay", "info", false);
    spdlog::info("hello");
  });
  setup_logging("unit_tests", "warn", false);
  EXPECT_NE(out.find(" info [relay] hello\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace sb
