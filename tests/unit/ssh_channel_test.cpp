// The typed libssh wrappers, without a peer: what an owner does with a channel before it is
// opened, and how results are mapped. (Channels moving data are covered by channel_host_test
// and the end-to-end tests.)
#include <gtest/gtest.h>

#include <utility>

#include "common/ssh/channel.hpp"
#include "common/ssh/session.hpp"

namespace sb::ssh {
namespace {

Session unconnected_session() {
  return make_client_session({.fd = -1,
                              .host = "127.0.0.1",
                              .user = "device",
                              .ciphers = "aes128-gcm@openssh.com",
                              .host_key_types = "ssh-ed25519"});
}

TEST(SshRc, MapsLibsshCodes) {
  EXPECT_EQ(to_rc(SSH_OK), Rc::kOk);
  EXPECT_EQ(to_rc(SSH_AGAIN), Rc::kAgain);
  EXPECT_EQ(to_rc(SSH_ERROR), Rc::kError);
  EXPECT_EQ(to_rc(SSH_EOF), Rc::kError);
}

TEST(SshError, AStaleErrnoLibsshReportsForAClosedSocketReadsAsAClosedConnection) {
  for (const char* stale :
       {"Socket error: Success", "Socket error: Resource temporarily unavailable",
        "Socket error: Bad file descriptor",
        "Writing packet: error on socket (or connection closed): Success"})
    EXPECT_EQ(readable_error(stale), "Socket error: connection closed") << stale;
  // Real causes, and everything else, are kept as libssh wrote them.
  for (const char* kept : {"Socket error: Connection reset by peer", "Socket error: disconnected",
                           "Socket error: Success and more", "Protocol mismatch: Success", ""})
    EXPECT_EQ(readable_error(kept), kept);
}

TEST(SshChannel, EmptyChannelIsClosedAndSafeToQuery) {
  Channel channel;
  EXPECT_FALSE(channel);
  EXPECT_TRUE(channel.is_closed());
  EXPECT_FALSE(channel.is_open());
  EXPECT_FALSE(channel.is_eof());
  EXPECT_EQ(channel.window(), 0u);
  EXPECT_FALSE(channel.session());
  EXPECT_FALSE(channel.listen({}));
  EXPECT_FALSE(channel.listening());
  channel.reset();
  channel.abandon();
}

TEST(SshChannel, CreateOnAnEmptySessionGivesNothing) {
  EXPECT_FALSE(Channel::create(SessionRef(nullptr)));
}

// libssh makes channels only on a connected session; without one there is nothing to own (and
// nothing to listen on). Channels with a peer are covered by channel_host_test.
TEST(SshChannel, CreateOnAnUnconnectedSessionGivesNothing) {
  Session session = unconnected_session();
  Channel channel = Channel::create(SessionRef(session.get()));
  EXPECT_FALSE(channel);
  EXPECT_FALSE(channel.listen({.eof = [] {}}));
  EXPECT_FALSE(channel.listening());
}

TEST(SshChannel, MovedFromChannelIsEmpty) {
  Channel first;
  Channel second = std::move(first);
  EXPECT_FALSE(second);
  EXPECT_FALSE(first);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  Channel third;
  third = std::move(second);
  EXPECT_FALSE(third);
  EXPECT_TRUE(third.is_closed());
}

TEST(SshSession, UnconnectedSessionHasNoOutputAndNoPeer) {
  Session session = unconnected_session();
  SessionRef ref(session.get());
  EXPECT_TRUE(ref);
  EXPECT_FALSE(ref.write_pending());
  EXPECT_EQ(ref.client_banner(), "");
  EXPECT_FALSE(ref.server_key());
}

}  // namespace
}  // namespace sb::ssh
