// A program without the read-ahead's libc interposition (unit_tests does not link
// sb_read_ahead): the read-ahead is not in effect, says nothing about it, and attaches nothing,
// so libssh reads its sockets itself (the ssh::Conn tests in this binary run that way).
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/fd.hpp"
#include "common/io/read_ahead.hpp"
#include "common/io/read_ahead_switch.hpp"
#include "common/logging.hpp"

namespace sb::io {
namespace {

TEST(ReadAheadAbsent, NotInEffectAndSilent) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::unsetenv("SB_READ_AHEAD");
        setup_logging("unit_tests", "trace", false);
        std::exit(read_ahead_status().in_effect ? 1 : 0);
      },
      testing::ExitedWithCode(0), "^$");
  EXPECT_FALSE(read_ahead_status().in_effect);
  EXPECT_NE(read_ahead_status().why_not.find("not linked"), std::string::npos)
      << read_ahead_status().why_not;
}

TEST(ReadAheadAbsent, LibsshGetsLibcsCalls) {
  EXPECT_EQ(::dlsym(RTLD_DEFAULT, "recv"), ::dlsym(RTLD_NEXT, "recv"));
  EXPECT_EQ(::dlsym(RTLD_DEFAULT, "poll"), ::dlsym(RTLD_NEXT, "poll"));
  EXPECT_EQ(::dlsym(RTLD_DEFAULT, "close"), ::dlsym(RTLD_NEXT, "close"));
  EXPECT_NE(self_check(dynamic_socket_calls()).find("recv()"), std::string::npos);
}

TEST(ReadAheadAbsent, AttachesNothingAndReadsGoToTheKernel) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  Fd reader(fds[0]), writer(fds[1]);
  ReadAhead ra;
  EXPECT_FALSE(ra.attach(reader.get()));
  EXPECT_FALSE(ra.attached());
  EXPECT_EQ(attached_read_ahead(reader.get()), nullptr);
  ASSERT_EQ(::send(writer.get(), "ab", 2, 0), 2);
  const SocketCalls libssh = dynamic_socket_calls();
  char c = 0;
  ASSERT_EQ(libssh.recv(reader.get(), &c, 1, 0), 1);
  EXPECT_EQ(c, 'a');
  EXPECT_EQ(ra.buffered(), 0u);
  pollfd p{reader.get(), POLLIN, 0};
  EXPECT_EQ(libssh.poll(&p, 1, 0), 1) << "the second byte is still the kernel's";
  ASSERT_EQ(libssh.recv(reader.get(), &c, 1, 0), 1);
  EXPECT_EQ(c, 'b');
}

}  // namespace
}  // namespace sb::io
