// ReadAhead: the recv()/poll()/close() shim that serves libssh's 4 KiB reads from one 64 KiB
// read. Driven through the same libc entry points libssh calls, on a socketpair.
#include "common/io/read_ahead.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

namespace sb::io {
namespace {

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
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

// libssh's way of reading: ask poll, then recv at most 4 KiB.
std::string read_like_libssh(int fd, std::size_t want) {
  std::string got;
  char buf[4096];
  while (got.size() < want && poll_readable(fd)) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

TEST(ReadAhead, ServesSmallReadsFromOneBigReadInOrder) {
  SocketPair s;
  ReadAhead ra;
  ASSERT_TRUE(ra.attach(s.reader));
  const std::string data = pattern(100 * 1024);
  s.send_all(data);
  char buf[4096];
  ASSERT_EQ(::recv(s.reader, buf, sizeof buf, 0), 4096);
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
  ASSERT_EQ(::recv(s.reader, buf, sizeof buf, 0), 1000);
  ASSERT_EQ(ra.buffered(), 19000u);  // the kernel queue is empty now
  pollfd p{s.reader, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 5000), 1);
  EXPECT_EQ(p.revents, POLLIN);
  // A descriptor without read-ahead in the same call is still asked of the kernel.
  SocketPair other;
  other.send_all("x");
  pollfd two[2] = {{s.reader, POLLIN, 0}, {other.reader, POLLIN, 0}};
  EXPECT_EQ(::poll(two, 2, 0), 2);
  EXPECT_TRUE(two[1].revents & POLLIN);
}

TEST(ReadAhead, PeekDoesNotConsume) {
  SocketPair s;
  ReadAhead ra;
  ASSERT_TRUE(ra.attach(s.reader));
  s.send_all("hello world");
  char buf[5];
  ASSERT_EQ(::recv(s.reader, buf, sizeof buf, 0), 5);
  char peek[6];
  ASSERT_EQ(::recv(s.reader, peek, sizeof peek, MSG_PEEK), 6);
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
  while ((n = ::recv(s.reader, buf, sizeof buf, 0)) > 0)
    got.append(buf, static_cast<std::size_t>(n));
  EXPECT_EQ(n, 0) << "end of file after the held bytes";
  EXPECT_EQ(got, data);
  EXPECT_EQ(::recv(s.reader, buf, sizeof buf, 0), 0);
}

TEST(ReadAhead, ErrorsReachTheCallerUnchanged) {
  SocketPair s;
  ReadAhead ra;
  ASSERT_TRUE(ra.attach(s.reader));
  char buf[16];
  errno = 0;
  EXPECT_EQ(::recv(s.reader, buf, sizeof buf, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
  ASSERT_EQ(::recv(-1, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(ReadAhead, CloseForgetsTheDescriptorBeforeItsNumberIsReused) {
  auto first = std::make_unique<SocketPair>();
  ReadAhead ra;
  ASSERT_TRUE(ra.attach(first->reader));
  first->send_all(pattern(50000));
  char buf[100];
  ASSERT_EQ(::recv(first->reader, buf, sizeof buf, 0), 100);
  ASSERT_GT(ra.buffered(), 0u);
  int number = first->reader;
  ::close(first->reader);  // what libssh does when its peer goes away
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
  ASSERT_EQ(::recv(s.reader, buf, sizeof buf, 0), 10);
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

}  // namespace
}  // namespace sb::io
