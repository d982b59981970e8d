// ReadAhead: the recv()/poll()/close() shim that serves libssh's 4 KiB reads from one 64 KiB
// read. Driven through the entry points the dynamic linker gives libssh, on a socketpair. This
// binary links the interposition (sb_read_ahead); read_ahead_absent_test.cpp, in unit_tests,
// covers a program without it.
#include "common/io/read_ahead.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/io/read_ahead_switch.hpp"
#include "common/logging.hpp"

namespace sb::io {
namespace {

// libssh's view of libc (the read-ahead's functions, when the dynamic linker works as
// expected), not whatever this file's own calls would bind to.
const SocketCalls& lib() {
  static const SocketCalls calls = dynamic_socket_calls();
  return calls;
}
ssize_t lib_recv(int fd, void* buf, std::size_t len, int flags) {
  return lib().recv(fd, buf, len, flags);
}
int lib_poll(pollfd* fds, nfds_t nfds, int timeout_ms) {
  return lib().poll(fds, nfds, timeout_ms);
}
int lib_close(int fd) {
  return lib().close(fd);
}

// libc's own functions, past the executable's: what a program without the interposition
// hands libssh.
SocketCalls libc_calls() {
  SocketCalls calls;
  calls.recv = reinterpret_cast<decltype(calls.recv)>(::dlsym(RTLD_NEXT, "recv"));
  calls.poll = reinterpret_cast<decltype(calls.poll)>(::dlsym(RTLD_NEXT, "poll"));
  calls.close = reinterpret_cast<decltype(calls.close)>(::dlsym(RTLD_NEXT, "close"));
  return calls;
}

// A connected pair of stream sockets; `reader` is the end libssh would own.
struct SocketPair {
  int reader = -1, writer = -1;
  SocketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0) reader = fds[0], writer = fds[1];
  }
  ~SocketPair() {
    if (reader >= 0) ::close(reader);
    if (writer >= 0) ::close(writer);
  }
  void send_all(const std::string& data) const {
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::send(writer, data.data() + done, data.size() - done, 0);
      ASSERT_GT(n, 0);
      done += static_cast<std::size_t>(n);
    }
  }
};

std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

bool poll_readable(int fd) {
  pollfd p{fd, POLLIN | POLLOUT, 0};
  return lib_poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

// libssh's way of reading: ask poll, then recv at most 4 KiB.
std::string read_like_libssh(int fd, std::size_t want) {
  std::string got;
  char buf[4096];
  while (got.size() < want && poll_readable(fd)) {
    ssize_t n = lib_recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

// This process's open descriptors.
int open_descriptors() {
  int count = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (::readdir(dir)) ++count;
    ::closedir(dir);
  }
  return count;
}

TEST(ReadAhead, ServesSmallReadsFromOneBigReadInOrder) {
  SocketPair s;
  ReadAhead ra;
  ASSERT_TRUE(ra.attach(s.reader));
  const std::string data = pattern(100 * 1024);
  s.send_all(data);
  char buf[4096];
  ASSERT_EQ(lib_recv(s.reader, buf, sizeof buf, 0), 4096);
  // One recv took what the kernel had (up to 64 KiB): the rest is held here.
  EXPECT_GT(ra.buffered(), 0u);
  EXPECT_LE(ra.buffered(), kReadAheadBytes);
  std::string got(buf, 4096);
  got += read_like_libssh(s.reader, data.size() - got.size());
  EXPECT_EQ(got, data);
  EXPECT_EQ(ra.buffered(), 0u);
  EXPECT_FALSE(ra.holds_memory()) << "a drained read-ahead must give its memory back";
}

TEST(ReadAhead, PollReportsBytesInMemoryThoughTheKernelHasNone) {
  SocketPair s;
  ReadAhead ra;
  ASSERT_TRUE(ra.attach(s.reader));
  s.send_all(pattern(20000));
  char buf[1000];
  ASSERT_EQ(lib_recv(s.reader, buf, sizeof buf, 0), 1000);
  ASSERT_EQ(ra.buffered(), 19000u);  // the kernel queue is empty now
  pollfd p{s.reader, POLLIN, 0};
  EXPECT_EQ(lib_poll(&p, 1, 5000), 1);
  EXPECT_EQ(p.revents, POLLIN);
  // A descriptor without read-ahead in the same call is still asked of the kernel.
  SocketPair other;
  other.send_all("x");
  pollfd two[2] = {{s.reader, POLLIN, 0}, {other.reader, POLLIN, 0}};
  EXPECT_EQ(lib_poll(two, 2, 0), 2);
  EXPECT_TRUE(two[1].revents & POLLIN);
}

TEST(ReadAhead, PeekDoesNotConsume) {
  SocketPair s;
  ReadAhead ra;
  ASSERT_TRUE(ra.attach(s.reader));
  s.send_all("hello world");
  char buf[5];
  ASSERT_EQ(lib_recv(s.reader, buf, sizeof buf, 0), 5);
  char peek[6];
  ASSERT_EQ(lib_recv(s.reader, peek, sizeof peek, MSG_PEEK), 6);
  EXPECT_EQ(std::string(peek, 6), " world");
  EXPECT_EQ(read_like_libssh(s.reader, 6), " world");
}

TEST(ReadAhead, HeldBytesComeBeforeEndOfFile) {
  SocketPair s;
  ReadAhead ra;
  ASSERT_TRUE(ra.attach(s.reader));
  const std::string data = pattern(30000);
  s.send_all(data);
  ::shutdown(s.writer, SHUT_WR);
  char buf[4096];
  std::string got;
  ssize_t n;
  while ((n = lib_recv(s.reader, buf, sizeof buf, 0)) > 0)
    got.append(buf, static_cast<std::size_t>(n));
  EXPECT_EQ(n, 0) << "end of file after the held bytes";
  EXPECT_EQ(got, data);
  EXPECT_EQ(lib_recv(s.reader, buf, sizeof buf, 0), 0);
}

TEST(ReadAhead, ErrorsReachTheCallerUnchanged) {
  SocketPair s;
  ReadAhead ra;
  ASSERT_TRUE(ra.attach(s.reader));
  char buf[16];
  errno = 0;
  EXPECT_EQ(lib_recv(s.reader, buf, sizeof buf, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
  ASSERT_EQ(lib_recv(-1, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(ReadAhead, CloseForgetsTheDescriptorBeforeItsNumberIsReused) {
  auto first = std::make_unique<SocketPair>();
  ReadAhead ra;
  ASSERT_TRUE(ra.attach(first->reader));
  first->send_all(pattern(50000));
  char buf[100];
  ASSERT_EQ(lib_recv(first->reader, buf, sizeof buf, 0), 100);
  ASSERT_GT(ra.buffered(), 0u);
  int number = first->reader;
  lib_close(first->reader);  // what libssh does when its peer goes away
  first->reader = -1;
  EXPECT_EQ(attached_read_ahead(number), nullptr);
  EXPECT_FALSE(ra.attached());
  EXPECT_EQ(ra.buffered(), 0u) << "the closed socket's bytes are gone";
  SocketPair second;  // gets the lowest free number: the one just closed
  ASSERT_EQ(second.reader, number);
  second.send_all("new");
  EXPECT_EQ(read_like_libssh(second.reader, 3), "new") << "no bytes of the old connection";
  ra.detach();  // the old owner's late detach must not touch the new socket's entry
  EXPECT_EQ(attached_read_ahead(number), nullptr);
  EXPECT_FALSE(ra.holds_memory()) << "detach frees what close() left";
  ReadAhead next;
  ASSERT_TRUE(next.attach(second.reader));
  ra.detach();
  EXPECT_EQ(attached_read_ahead(number), &next);
}

TEST(ReadAhead, DetachDropsHeldBytesAndPassesThrough) {
  SocketPair s;
  ReadAhead ra;
  ASSERT_TRUE(ra.attach(s.reader));
  EXPECT_EQ(attached_read_ahead(s.reader), &ra);
  s.send_all(pattern(10000));
  char buf[10];
  ASSERT_EQ(lib_recv(s.reader, buf, sizeof buf, 0), 10);
  ra.detach();
  EXPECT_EQ(attached_read_ahead(s.reader), nullptr);
  EXPECT_EQ(ra.buffered(), 0u);
  EXPECT_FALSE(ra.holds_memory());
  s.send_all("z");
  EXPECT_EQ(read_like_libssh(s.reader, 1), "z");
}

TEST(ReadAhead, OutOfRangeDescriptorsAreNotAttached) {
  ReadAhead ra;
  EXPECT_FALSE(ra.attach(-1));
  EXPECT_FALSE(ra.attach(1 << 20));
  EXPECT_FALSE(ra.attached());
}

TEST(ReadAheadSelfCheck, PassesThroughWhatTheDynamicLinkerHandsLibssh) {
  ASSERT_NE(lib().recv, libc_calls().recv) << "this binary's recv() is not exported";
  int before = open_descriptors();
  EXPECT_EQ(self_check(lib()), "");
  EXPECT_EQ(open_descriptors(), before) << "the self-check leaves no descriptor open";
}

TEST(ReadAheadSelfCheck, NamesTheCallThatIsNotTheReadAheads) {
  int before = open_descriptors();
  SocketCalls calls = lib();
  calls.recv = libc_calls().recv;
  EXPECT_NE(self_check(calls).find("recv()"), std::string::npos) << self_check(calls);
  calls = lib();
  calls.poll = libc_calls().poll;
  EXPECT_NE(self_check(calls).find("poll()"), std::string::npos) << self_check(calls);
  calls = lib();
  calls.close = libc_calls().close;
  EXPECT_NE(self_check(calls).find("close()"), std::string::npos) << self_check(calls);
  EXPECT_NE(self_check(SocketCalls{}), "");
  EXPECT_EQ(open_descriptors(), before) << "a failed self-check leaves no descriptor open";
  for (int fd = 0; fd < 1024; ++fd) ASSERT_EQ(attached_read_ahead(fd), nullptr) << fd;
}

// The decision is made once per process, so these run it in a fresh child process each
// (a death test in the style that re-executes the binary).
TEST(ReadAheadSelfCheck, InEffectAndSilentInAProgramThatLinksIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::unsetenv("SB_READ_AHEAD");
        setup_logging("read_ahead_tests", "trace", false);
        std::exit(read_ahead_status().in_effect ? 0 : 1);
      },
      testing::ExitedWithCode(0), "^$");
}

TEST(ReadAheadSwitch, OnlyZeroTurnsItOff) {
  EXPECT_EQ(read_ahead_switch(nullptr), true);
  EXPECT_EQ(read_ahead_switch(""), true);
  EXPECT_EQ(read_ahead_switch("1"), true);
  EXPECT_EQ(read_ahead_switch("0"), false);
  EXPECT_EQ(read_ahead_switch("off"), std::nullopt);
  EXPECT_EQ(read_ahead_switch("00"), std::nullopt);
}

// In the child: SB_READ_AHEAD=0 at start, then every check, each failure named on stderr.
[[noreturn]] void run_switched_off() {
  ::setenv("SB_READ_AHEAD", "0", 1);
  setup_logging("read_ahead_tests", "trace", false);
  bool ok = true;
  auto expect = [&ok](bool holds, const char* what) {
    if (!holds) std::fprintf(stderr, "FAILED: %s\n", what), ok = false;
  };
  expect(!read_ahead_status().in_effect, "not in effect");
  expect(read_ahead_status().why_not == "switched off by SB_READ_AHEAD=0", "why_not");
  ::setenv("SB_READ_AHEAD", "1", 1);
  expect(!read_ahead_status().in_effect, "the switch is read once, at the decision");
  SocketPair s;
  ReadAhead ra;
  expect(!ra.attach(s.reader) && !ra.attached(), "attach() refuses");
  expect(attached_read_ahead(s.reader) == nullptr, "nothing in the table");
  s.send_all("ab");
  char c = 0;
  expect(lib_recv(s.reader, &c, 1, 0) == 1 && c == 'a', "recv() reads");
  expect(ra.buffered() == 0 && !ra.holds_memory(), "nothing read ahead");
  expect(poll_readable(s.reader), "the second byte is still the kernel's");
  expect(lib_recv(s.reader, &c, 1, 0) == 1 && c == 'b', "recv() reads on");
  std::exit(ok ? 0 : 1);
}

TEST(ReadAheadSwitch, ZeroTurnsItOffForTheWholeRunWithOneLogLine) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_switched_off(), testing::ExitedWithCode(0),
              "^[^\n]*read-ahead off \\(SB_READ_AHEAD=0\\)[^\n]*\n$");
}

}  // namespace
}  // namespace sb::io
