// parse_cidr / cidr_contains: the --allow-proxy rules.
#include <gtest/gtest.h>

#include "device-agent/channel_host.hpp"

namespace sb::agent {
namespace {

Cidr cidr(const char* text) {
  auto c = parse_cidr(text);
  EXPECT_TRUE(c.has_value()) << text;
  return c.value_or(Cidr{});
}

TEST(Cidr, ParsesV4WithAndWithoutPrefix) {
  auto net = cidr("10.0.0.0/8");
  EXPECT_EQ(net.addr, (std::vector<std::uint8_t>{10, 0, 0, 0}));
  EXPECT_EQ(net.prefix, 8);
  auto host = cidr("192.168.1.5");
  EXPECT_EQ(host.prefix, 32);
  EXPECT_EQ(cidr(" 172.16.0.0/12 ").prefix, 12);  // list items may carry spaces
}

TEST(Cidr, ParsesV6) {
  auto net = cidr("::1/128");
  EXPECT_EQ(net.addr.size(), 16u);
  EXPECT_EQ(net.prefix, 128);
  EXPECT_EQ(cidr("fd00::").prefix, 128);
  EXPECT_EQ(cidr("2001:db8::/32").prefix, 32);
}

TEST(Cidr, MasksHostBits) {
  auto net = cidr("10.1.2.3/8");
  EXPECT_EQ(net.addr, (std::vector<std::uint8_t>{10, 0, 0, 0}));
  EXPECT_TRUE(cidr_contains(net, "10.200.0.1"));
}

TEST(Cidr, RejectsMalformed) {
  for (const char* bad : {"", "/", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8",
                          "10.0.0.0/8x", "10.0.0.0/1234", "10.0.0", "10.0.0.256", "300.1.1.1/8",
                          "::1/129", "fe80::1%1/64", "example.com/8", "10.0.0.0/8/8", "::g"}) {
    EXPECT_FALSE(parse_cidr(bad).has_value()) << bad;
  }
}

TEST(Cidr, ContainsV4) {
  auto net = cidr("127.0.0.0/8");
  EXPECT_TRUE(cidr_contains(net, "127.0.0.1"));
  EXPECT_TRUE(cidr_contains(net, "127.255.255.255"));
  EXPECT_FALSE(cidr_contains(net, "128.0.0.1"));
  EXPECT_FALSE(cidr_contains(net, "::1"));
  EXPECT_FALSE(cidr_contains(net, "not an address"));
  EXPECT_FALSE(cidr_contains(net, ""));
}

TEST(Cidr, Slash32And128AreSingleHosts) {
  auto v4 = cidr("192.168.1.5/32");
  EXPECT_TRUE(cidr_contains(v4, "192.168.1.5"));
  EXPECT_FALSE(cidr_contains(v4, "192.168.1.4"));
  auto v6 = cidr("2001:db8::5/128");
  EXPECT_TRUE(cidr_contains(v6, "2001:db8::5"));
  EXPECT_FALSE(cidr_contains(v6, "2001:db8::4"));
}

TEST(Cidr, OddPrefixes) {
  auto net = cidr("10.0.0.0/9");
  EXPECT_TRUE(cidr_contains(net, "10.127.255.255"));
  EXPECT_FALSE(cidr_contains(net, "10.128.0.0"));
  auto v6 = cidr("2001:db8:8000::/33");
  EXPECT_TRUE(cidr_contains(v6, "2001:db8:ffff::1"));
  EXPECT_FALSE(cidr_contains(v6, "2001:db8:7fff::1"));
}

TEST(Cidr, SlashZeroMatchesItsFamilyOnly) {
  auto all4 = cidr("0.0.0.0/0");
  EXPECT_TRUE(cidr_contains(all4, "8.8.8.8"));
  EXPECT_FALSE(cidr_contains(all4, "2001:db8::1"));
  auto all6 = cidr("::/0");
  EXPECT_TRUE(cidr_contains(all6, "2001:db8::1"));
  EXPECT_FALSE(cidr_contains(all6, "8.8.8.8"));
}

TEST(Cidr, ContainsV6) {
  auto net = cidr("fd00::/8");
  EXPECT_TRUE(cidr_contains(net, "fd12:3456::1"));
  EXPECT_FALSE(cidr_contains(net, "fe80::1"));
  EXPECT_TRUE(cidr_contains(cidr("fe80::/10"), "fe80::1%1"));  // scoped addresses still match
}

// Decision: an IPv4-mapped IPv6 address is the IPv4 address it denotes (connecting to it
// reaches that IPv4 host). So it matches IPv4 rules and never IPv6 rules; otherwise ::/0 would
// open every IPv4 host, and 127.0.0.0/8 could be dodged by writing ::ffff:127.0.0.1.
TEST(Cidr, MappedV6IsTreatedAsV4) {
  EXPECT_TRUE(cidr_contains(cidr("127.0.0.0/8"), "::ffff:127.0.0.1"));
  EXPECT_FALSE(cidr_contains(cidr("10.0.0.0/8"), "::ffff:127.0.0.1"));
  EXPECT_FALSE(cidr_contains(cidr("::/0"), "::ffff:127.0.0.1"));
  // A mapped network is an IPv4 network (its prefix counts the 96 mapping bits).
  auto mapped = cidr("::ffff:10.0.0.0/104");
  EXPECT_EQ(mapped.addr.size(), 4u);
  EXPECT_EQ(mapped.prefix, 8);
  EXPECT_TRUE(cidr_contains(mapped, "10.1.2.3"));
  EXPECT_FALSE(parse_cidr("::ffff:10.0.0.0/95").has_value());
}

}  // namespace
}  // namespace sb::agent
