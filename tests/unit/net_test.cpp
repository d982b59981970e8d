// parse_host_port and HostPort::str(): the relay address as typed by people.
#include "common/io/net.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sb::net {
namespace {

// Parses text that must be valid.
HostPort ok(std::string_view text, std::uint16_t default_port = 0) {
  std::string error;
  auto hp = parse_host_port(text, default_port, &error);
  EXPECT_TRUE(hp.has_value()) << text << ": " << error;
  EXPECT_TRUE(error.empty()) << text << ": " << error;
  return hp.value_or(HostPort{});
}

// Parses text that must be rejected; returns the error.
std::string bad(std::string_view text, std::uint16_t default_port = 0) {
  std::string error;
  auto hp = parse_host_port(text, default_port, &error);
  EXPECT_FALSE(hp.has_value()) << text << " parsed as " << (hp ? hp->str() : "");
  EXPECT_FALSE(error.empty()) << text;
  return error;
}

TEST(Net, ParsesIpv4WithPort) {
  auto hp = ok("127.0.0.1:2222");
  EXPECT_EQ(hp.host, "127.0.0.1");
  EXPECT_EQ(hp.port, 2222);
}

TEST(Net, ParsesHostnameWithPort) {
  auto hp = ok("relay.example.com:22");
  EXPECT_EQ(hp.host, "relay.example.com");
  EXPECT_EQ(hp.port, 22);
  EXPECT_EQ(ok("localhost:1").port, 1);
  EXPECT_EQ(ok("localhost:65535").port, 65535);
  EXPECT_EQ(ok("my_host-1.lan:2222").host, "my_host-1.lan");
}

TEST(Net, ParsesBracketedIpv6) {
  auto hp = ok("[::1]:2222");
  EXPECT_EQ(hp.host, "::1");
  EXPECT_EQ(hp.port, 2222);
  auto full = ok("[2001:db8::42]:443");
  EXPECT_EQ(full.host, "2001:db8::42");
  EXPECT_EQ(full.port, 443);
  auto scoped = ok("[fe80::1%eth0]:22");
  EXPECT_EQ(scoped.host, "fe80::1%eth0");
  EXPECT_EQ(scoped.port, 22);
}

TEST(Net, DefaultPortWhenOmitted) {
  auto hp = ok("relay.example.com", 2222);
  EXPECT_EQ(hp.host, "relay.example.com");
  EXPECT_EQ(hp.port, 2222);
  auto v6 = ok("[::1]", 2222);
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 2222);
  EXPECT_EQ(ok("10.0.0.1", 7).port, 7);
}

TEST(Net, ExplicitPortWinsOverDefault) {
  EXPECT_EQ(ok("relay:9000", 2222).port, 9000);
  EXPECT_EQ(ok("[::1]:9000", 2222).port, 9000);
}

TEST(Net, PortRequiredWhenDefaultIsZero) {
  EXPECT_NE(bad("relay.example.com").find("port"), std::string::npos);
  EXPECT_NE(bad("[::1]").find("port"), std::string::npos);
  EXPECT_NE(bad("127.0.0.1").find("port"), std::string::npos);
}

TEST(Net, RejectsBadPorts) {
  for (const char* text : {"h:0", "h:65536", "h:99999", "h:4294967296", "h:99999999999999999999",
                           "h:abc", "h:-1", "h:+22", "h:22 ", "h: 22", "h:2x", "h:0x16", "h:22.0",
                           "[::1]:0", "[::1]:65536", "[::1]:abc"}) {
    auto error = bad(text);
    EXPECT_NE(error.find("port"), std::string::npos) << text << ": " << error;
  }
  // Whatever the default, a bad explicit port is an error.
  bad("h:0", 2222);
  bad("h:abc", 2222);
}

TEST(Net, UnbracketedIpv6IsRejectedWithAHint) {
  for (const char* text : {"::1:22", "::1", "2001:db8::1:2222", "fe80::1", "a:b:c"}) {
    auto error = bad(text, 2222);
    EXPECT_NE(error.find("bracket"), std::string::npos) << text << ": " << error;
    EXPECT_NE(error.find("[::1]:2222"), std::string::npos) << "shows an example: " << error;
  }
}

TEST(Net, RejectsMalformedBrackets) {
  EXPECT_NE(bad("[::1").find("]"), std::string::npos);
  EXPECT_NE(bad("[::1:22").find("]"), std::string::npos);
  bad("[::1]22");
  bad("[::1]x22");
  bad("[::1]:22:33");
}

TEST(Net, RejectsEmptyHost) {
  for (const char* text : {"", ":2222", "[]:2222", "[]", ":"}) {
    auto error = bad(text, 2222);
    EXPECT_NE(error.find("host"), std::string::npos) << '"' << text << "\": " << error;
  }
}

TEST(Net, RejectsHostsWithForbiddenCharacters) {
  for (const char* text : {"re lay:22", "relay/x:22", "relay\n:22", "relay\x1b:22", "us@er:22",
                           "caf\xc3\xa9:22", "relay;rm:22", "[::1 ]:22", "[::1\n]:22"})
    bad(text);
}

TEST(Net, HostLengthIsBounded) {
  // 253 characters is the longest DNS name.
  std::string longest(253, 'a');
  EXPECT_EQ(ok(longest + ":22").host, longest);
  bad(std::string(254, 'a') + ":22");
  bad("[" + std::string(254, 'a') + "]:22");
}

TEST(Net, ErrorForHugeInputIsBounded) {
  std::string huge(1 << 20, 'a');
  auto error = bad(huge + ":22");
  EXPECT_LT(error.size(), 500u) << "the input is quoted, but not all of it";
  EXPECT_NE(error.find("aaaa"), std::string::npos);
}

TEST(Net, NullErrorPointerIsAllowed) {
  EXPECT_FALSE(parse_host_port("::1:22", 0, nullptr).has_value());
  EXPECT_FALSE(parse_host_port("h:0", 0, nullptr).has_value());
  EXPECT_FALSE(parse_host_port("", 22, nullptr).has_value());
  EXPECT_TRUE(parse_host_port("h:22", 0, nullptr).has_value());
}

TEST(Net, StrFormatsHostAndPort) {
  EXPECT_EQ((HostPort{"127.0.0.1", 2222}).str(), "127.0.0.1:2222");
  EXPECT_EQ((HostPort{"relay.example.com", 22}).str(), "relay.example.com:22");
  EXPECT_EQ((HostPort{"::1", 2222}).str(), "[::1]:2222");
  EXPECT_EQ((HostPort{"2001:db8::42", 443}).str(), "[2001:db8::42]:443");
  EXPECT_EQ((HostPort{"fe80::1%eth0", 22}).str(), "[fe80::1%eth0]:22");
}

TEST(Net, StrRoundTrips) {
  for (const char* text :
       {"127.0.0.1:2222", "[::1]:2222", "relay.example.com:22", "[2001:db8::42]:65535",
        "[fe80::1%eth0]:1", "h:1", "[::]:2222", "0.0.0.0:2222"}) {
    auto first = ok(text);
    EXPECT_EQ(first.str(), text);
    auto second = ok(first.str());
    EXPECT_EQ(second.host, first.host);
    EXPECT_EQ(second.port, first.port);
  }
}

TEST(Net, StrRoundTripsWithDefaultPort) {
  auto hp = ok("[2001:db8::1]", 2222);
  EXPECT_EQ(hp.str(), "[2001:db8::1]:2222");
  auto again = ok(hp.str());
  EXPECT_EQ(again.host, "2001:db8::1");
  EXPECT_EQ(again.port, 2222);
}

}  // namespace
}  // namespace sb::net
