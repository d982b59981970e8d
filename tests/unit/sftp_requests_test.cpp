// The SFTP file names the relay records for the audit: the named requests of a client's stream
// however it is cut, the data skipped, every bound, and a stream that is not SFTP.
#include "relay/audit/sftp_requests.hpp"

#include <gtest/gtest.h>

#include <random>

namespace sb::relay {
namespace {

using Entry = SftpRequestLog::Entry;

// SFTP wire encoding (big-endian lengths).
std::string u32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
std::string str(std::string_view s) {
  return u32(static_cast<std::uint32_t>(s.size())) + std::string(s);
}
std::string packet(std::uint8_t type, const std::string& body) {
  return u32(static_cast<std::uint32_t>(body.size() + 1)) + static_cast<char>(type) + body;
}

constexpr std::uint8_t kInit = 1, kOpen = 3, kClose = 4, kRead = 5, kWrite = 6, kOpendir = 11,
                       kRemove = 13, kMkdir = 14, kRmdir = 15, kRealpath = 16, kStat = 17,
                       kRename = 18, kSymlink = 20, kExtended = 200;
constexpr std::uint32_t kFlagRead = 0x1, kFlagWrite = 0x2, kFlagCreat = 0x8, kFlagTrunc = 0x10;
const std::string kAttrs = u32(0);  // no attributes

std::string open_packet(std::uint32_t id, std::string_view path, std::uint32_t flags) {
  return packet(kOpen, u32(id) + str(path) + u32(flags) + kAttrs);
}

// What OpenSSH's scp sends for an upload then a download, with the data in between.
std::string typical_session() {
  std::string s = packet(kInit, u32(3));
  s += packet(kRealpath, u32(1) + str("."));
  s += packet(kStat, u32(2) + str("/tmp/up.bin"));
  s += open_packet(3, "/tmp/up.bin", kFlagWrite | kFlagCreat | kFlagTrunc);
  s += packet(kWrite, u32(4) + str("HANDLE") + u32(0) + u32(0) + str(std::string(32768, 'x')));
  s += packet(kWrite, u32(5) + str("HANDLE") + u32(0) + u32(32768) + str(std::string(1000, 'y')));
  s += packet(kClose, u32(6) + str("HANDLE"));
  s += open_packet(7, "/etc/hostname", kFlagRead);
  s += packet(kRead, u32(8) + str("HANDLE") + u32(0) + u32(0) + u32(32768));
  s += packet(kOpendir, u32(9) + str("/var/log"));
  s += packet(kRemove, u32(10) + str("/tmp/old"));
  s += packet(kMkdir, u32(11) + str("/tmp/dir") + kAttrs);
  s += packet(kRmdir, u32(12) + str("/tmp/gone"));
  s += packet(kRename, u32(13) + str("/tmp/a") + str("/tmp/b"));
  // OpenSSH: the link's target first, then the link.
  s += packet(kSymlink, u32(14) + str("/etc/target") + str("/tmp/link"));
  s += packet(kExtended, u32(15) + str("posix-rename@openssh.com") + str("/tmp/c") + str("/tmp/d"));
  s += packet(kExtended, u32(16) + str("hardlink@openssh.com") + str("/tmp/e") + str("/tmp/f"));
  s += packet(kExtended, u32(17) + str("statvfs@openssh.com") + str("/"));
  return s;
}

const std::vector<Entry> kTypical = {
    {"write", "/tmp/up.bin", ""},
    {"read", "/etc/hostname", ""},
    {"remove", "/tmp/old", ""},
    {"mkdir", "/tmp/dir", ""},
    {"rmdir", "/tmp/gone", ""},
    {"rename", "/tmp/a", "/tmp/b"},
    {"symlink", "/tmp/link", "/etc/target"},
    {"rename", "/tmp/c", "/tmp/d"},
    {"hardlink", "/tmp/e", "/tmp/f"},
};

TEST(SftpRequests, NamesTheFilesOfATypicalSession) {
  SftpRequestLog log;
  log.feed(typical_session());
  EXPECT_EQ(log.entries(), kTypical);
  EXPECT_EQ(log.more(), 0u);
  EXPECT_FALSE(log.gave_up());
}

TEST(SftpRequests, AnyChunkingGivesTheSameNames) {
  const std::string stream = typical_session();
  // One byte at a time, then random cuts.
  SftpRequestLog bytewise;
  for (char c : stream) bytewise.feed(std::string_view(&c, 1));
  EXPECT_EQ(bytewise.entries(), kTypical);
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    SftpRequestLog log;
    for (std::size_t at = 0; at < stream.size();) {
      std::size_t n = std::uniform_int_distribution<std::size_t>(1, 5000)(rng);
      log.feed(std::string_view(stream).substr(at, n));
      at += n;
    }
    ASSERT_EQ(log.entries(), kTypical) << "round " << round;
  }
}

TEST(SftpRequests, JsonHasTheNamesAndOnlyTheFlagsThatApply) {
  SftpRequestLog log;
  EXPECT_EQ(log.to_json(), nlohmann::json::object());  // nothing named: nothing added
  log.feed(packet(kRename, u32(1) + str("a") + str("b")));
  EXPECT_EQ(log.to_json(),
            (nlohmann::json{{"files", {{{"op", "rename"}, {"path", "a"}, {"to", "b"}}}}}));
}

TEST(SftpRequests, KeepsAtMostMaxEntriesAndCountsTheRest) {
  SftpRequestLog log;
  const std::size_t total = SftpRequestLog::kMaxEntries + 10;
  for (std::size_t i = 0; i < total; ++i)
    log.feed(open_packet(static_cast<std::uint32_t>(i), "/f" + std::to_string(i), kFlagRead));
  ASSERT_EQ(log.entries().size(), SftpRequestLog::kMaxEntries);
  EXPECT_EQ(log.entries().back().path, "/f" + std::to_string(SftpRequestLog::kMaxEntries - 1));
  EXPECT_EQ(log.more(), 10u);
  EXPECT_EQ(log.to_json()["files_more"], 10);
}

TEST(SftpRequests, LongNamesAreCutAndOddBytesEscaped) {
  SftpRequestLog log;
  const std::string huge(20000, 'a');  // over the capture: the open's flags are not seen
  log.feed(open_packet(1, huge, kFlagWrite));
  log.feed(open_packet(2, std::string(600, 'b'), kFlagWrite));
  log.feed(packet(kRemove, u32(3) + str(std::string("x\n\x1b[31m\xff", 8))));
  log.feed(packet(kRemove, u32(4) + str("caf\xc3\xa9")));   // UTF-8 stays as it is
  log.feed(packet(kRemove, u32(5) + str("\xe0\x82\xa0")));  // an overlong form is not UTF-8
  ASSERT_EQ(log.entries().size(), 5u);
  EXPECT_EQ(log.entries()[0].op, "open");
  EXPECT_LE(log.entries()[0].path.size(), SftpRequestLog::kMaxPathBytes);
  EXPECT_TRUE(log.entries()[0].path.ends_with("…"));
  EXPECT_EQ(log.entries()[1].op, "write");
  EXPECT_LE(log.entries()[1].path.size(), SftpRequestLog::kMaxPathBytes);
  EXPECT_EQ(log.entries()[2].path, "x\\n\\x1b[31m\\xff");
  EXPECT_EQ(log.entries()[3].path, "caf\xc3\xa9");
  EXPECT_EQ(log.entries()[4].path, "\\xe0\\x82\\xa0");
  EXPECT_NO_THROW((void)log.to_json().dump());  // valid UTF-8 whatever the client sent
  // The stream is still followed after the long packet.
  log.feed(packet(kMkdir, u32(6) + str("/after") + kAttrs));
  EXPECT_EQ(log.entries().size(), 6u);
}

TEST(SftpRequests, TruncatedOrShortFieldsNameWhatIsThere) {
  SftpRequestLog log;
  log.feed(packet(kOpen, u32(1) + str("/no-flags")));                     // flags missing
  log.feed(packet(kRename, u32(2) + str("/only-from")));                  // second path missing
  log.feed(packet(kRemove, u32(3) + u32(100) + "/short"));                // length over the packet
  log.feed(packet(kRemove, u32(4)));                                      // no path at all
  log.feed(packet(kExtended, u32(5) + str("posix-rename@openssh.com")));  // no paths
  log.feed(packet(kMkdir, ""));                                           // not even an id
  const std::vector<Entry> expected = {
      {"open", "/no-flags", ""}, {"rename", "/only-from", ""}, {"remove", "/short", ""}};
  EXPECT_EQ(log.entries(), expected);
  EXPECT_FALSE(log.gave_up());
}

TEST(SftpRequests, GivesUpOnAStreamThatIsNotSftp) {
  SftpRequestLog zero;
  zero.feed(u32(0) + packet(kRemove, u32(1) + str("/x")));
  EXPECT_TRUE(zero.gave_up());
  EXPECT_TRUE(zero.entries().empty());
  EXPECT_EQ(zero.to_json()["files_incomplete"], true);

  SftpRequestLog huge;
  huge.feed(packet(kRemove, u32(1) + str("/before")));
  huge.feed(u32(SftpRequestLog::kMaxPacket + 1) + std::string(100, '\0'));
  huge.feed(packet(kRemove, u32(2) + str("/after")));
  EXPECT_TRUE(huge.gave_up());
  ASSERT_EQ(huge.entries().size(), 1u);
  EXPECT_EQ(huge.entries()[0].path, "/before");

  // Exactly the largest packet is still SFTP.
  SftpRequestLog largest;
  largest.feed(packet(kWrite, std::string(SftpRequestLog::kMaxPacket - 1, 'z')));
  largest.feed(packet(kRemove, u32(2) + str("/next")));
  EXPECT_FALSE(largest.gave_up());
  EXPECT_EQ(largest.entries().size(), 1u);
}

}  // namespace
}  // namespace sb::relay
