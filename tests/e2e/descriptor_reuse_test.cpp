// Descriptor reuse under churn: many short connections opened and dropped at once, so that the
// relay's descriptor numbers are handed out again within microseconds of being closed, on
// several reactor threads. Half of them misbehave (connect and leave, send garbage, reset
// before or during the key exchange); the other half are real operator logins, each running
// `echo` with a token of its own through the relay to a device. A descriptor the relay closed
// twice, or used after closing it, shows as a login that fails, hangs or gets another
// connection's bytes (and, in a debug build, as the relay aborting: a connection checks that a
// number it closes is still its socket). Every login must get exactly its own token. The relay's
// "handshake failed" lines for the misbehaving ones are expected; for a socket found closed they
// say "connection closed", not the stale errno libssh reports then ("Success", "Bad file
// descriptor" from an earlier epoll_ctl on a number it closed, ...).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <thread>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

#ifdef SB_SANITIZED
constexpr int kRounds = 3;
#else
constexpr int kRounds = 4;
#endif
constexpr int kLogins = 10;  // real logins per round
constexpr int kJunk = 40;    // misbehaving connections per round, from 127.0.0.2-5

// A connection from `source` to 127.0.0.1:port, or -1.
int connect_from(const std::string& source, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Closes with a reset (RST) instead of an orderly FIN.
void reset(int fd) {
  linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fd);
}

// Waits up to `ms` for the relay's banner (or its close), so the socket is surely in the relay's
// hands (accepted, given to libssh) before it is dropped.
void await_banner(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  ::poll(&p, 1, ms);
  char buf[256];
  if (p.revents & POLLIN) (void)::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
}

// One misbehaving connection, by kind.
void misbehave(const std::string& source, int port, int kind) {
  int fd = connect_from(source, port);
  if (fd < 0) return;
  static const std::string kGarbage = "GET / HTTP/1.0\r\n\r\n";
  static const std::string kBannerAndJunk =
      "SSH-2.0-junk\r\n" + std::string(64, '\0') + std::string("\x7f\xff\xff\xff", 4);
  switch (kind % 5) {
    case 0:  // connect and leave at once, no banner
      ::close(fd);
      break;
    case 1:  // a reset as soon as the relay has it
      await_banner(fd, 200);
      reset(fd);
      break;
    case 2:  // garbage instead of a banner
      (void)::send(fd, kGarbage.data(), kGarbage.size(), MSG_NOSIGNAL);
      await_banner(fd, 200);
      ::close(fd);
      break;
    case 3:  // a banner, then a packet length no one would send, then a reset
      await_banner(fd, 200);
      (void)::send(fd, kBannerAndJunk.data(), kBannerAndJunk.size(), MSG_NOSIGNAL);
      reset(fd);
      break;
    default:  // a reset before the relay has even answered
      reset(fd);
      break;
  }
}

class DescriptorReuse : public OperatorTest {};

TEST_F(DescriptorReuse, EveryLoginGetsItsOwnBytesWhileConnectionsChurn) {
  // Several reactors, so a number closed on one can be reused on another at once.
  start_relay({"bob"}, {"--threads", "4"});
  std::string token = create_enroll_token(relay(), "web-01");
  ASSERT_EQ(relay().admin({"grant", "add", "bob", "web-01"}).exit_code, 0);
  start_enrolled_agent(token);  // granted: no consent question
  RunResult first;
  ASSERT_TRUE(wait_until(
      [&] {
        first = run(ssh("bob", "web-01", {}, {"echo ready"}));
        return first.exit_code == 0;
      },
      10s))
      << first.err;

  const auto started = std::chrono::steady_clock::now();
  int wrong = 0;
  std::string failures;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::unique_ptr<Process>> logins;
    std::vector<std::string> tokens;
    std::vector<std::thread> junk;
    for (int i = 0; i < kJunk; ++i) {
      const std::string source = "127.0.0." + std::to_string(2 + i % 4);
      junk.emplace_back(misbehave, source, relay().port(), i + round);
      if (i % (kJunk / kLogins) == 0 && static_cast<int>(logins.size()) < kLogins) {
        tokens.push_back("token-" + std::to_string(round) + "-" + std::to_string(logins.size()) +
                         "-" + std::to_string(::getpid()));
        logins.push_back(
            std::make_unique<Process>(ssh("bob", "web-01", {}, {"echo " + tokens.back()})));
      }
    }
    for (auto& t : junk) t.join();
    for (std::size_t i = 0; i < logins.size(); ++i) {
      auto code = logins[i]->wait(30s);
      if (code != 0 || logins[i]->out() != tokens[i] + "\n") {
        ++wrong;
        failures += "round " + std::to_string(round) + " login " + std::to_string(i) + ": exit " +
                    (code ? std::to_string(*code) : std::string("(still running)")) + ", out \"" +
                    logins[i]->out() + "\", err \"" + logins[i]->err() + "\"\n";
      }
    }
  }
  const double took = seconds_since(started);
  const std::string log = relay().process().err();
  std::cout << "[ measured ] " << kRounds << " rounds of " << kLogins << " logins and " << kJunk
            << " misbehaving connections in " << took
            << " s; relay: " << occurrences_of(log, "handshake failed from")
            << " failed handshakes\n";

  EXPECT_EQ(wrong, 0) << failures << "\nrelay log:\n" << log;
  ASSERT_TRUE(relay().process().running()) << log;
  // A connection about to close a number that is no longer its socket says so (and a debug
  // build aborts there).
  EXPECT_EQ(occurrences_of(log, "is no longer this connection's socket"), 0u) << log;
  // What a misbehaving connection's line says is its cause, never an errno libssh had left over.
  for (const char* stale :
       {": Success\n", ": Resource temporarily unavailable\n", ": Bad file descriptor\n"})
    EXPECT_EQ(occurrences_of(log, stale), 0u) << stale << " in:\n" << log;
  // The real logins came from 127.0.0.1: none of its handshakes may fail.
  EXPECT_EQ(occurrences_of(log, "handshake failed from 127.0.0.1:"), 0u) << log;
  // The device's tunnel was never disturbed.
  auto after = run(ssh("bob", "web-01", {}, {"echo still-here"}));
  EXPECT_EQ(after.out, "still-here\n") << after.err;
}

}  // namespace
}  // namespace sb::e2e
