// CIDR parsing and matching for --allow-proxy.
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are treated as the IPv4 address they denote, both
// as networks and as addresses: connecting to ::ffff:127.0.0.1 reaches 127.0.0.1, so a v6 rule
// such as ::/0 must not let it through, and a v4 rule such as 127.0.0.0/8 must.
#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <charconv>

#include "device-agent/channel_host.hpp"

namespace sb::agent {

namespace {

namespace ip = boost::asio::ip;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The address's bytes, mapped IPv6 folded to IPv4; nullopt if not an address (or scoped when
// scopes are not allowed: a zone makes no sense in a network rule).
std::optional<std::vector<std::uint8_t>> address_bytes(std::string_view text, bool allow_scope) {
  // Dotted quads only: some inet_pton implementations (Wine's) also take "10.0.0" or "10".
  if (text.find(':') == std::string_view::npos && std::count(text.begin(), text.end(), '.') != 3)
    return std::nullopt;
  boost::system::error_code ec;
  auto addr = ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  if (addr.is_v4()) {
    auto b = addr.to_v4().to_bytes();
    return std::vector<std::uint8_t>(b.begin(), b.end());
  }
  auto v6 = addr.to_v6();
  if (v6.scope_id() != 0 && !allow_scope) return std::nullopt;
  if (v6.is_v4_mapped()) {
    auto b = ip::make_address_v4(ip::v4_mapped, v6).to_bytes();
    return std::vector<std::uint8_t>(b.begin(), b.end());
  }
  auto b = v6.to_bytes();
  return std::vector<std::uint8_t>(b.begin(), b.end());
}

bool is_v4_mapped_text(std::string_view text) {
  boost::system::error_code ec;
  auto addr = ip::make_address(std::string(text), ec);
  return !ec && addr.is_v6() && addr.to_v6().is_v4_mapped();
}

std::optional<int> parse_prefix(std::string_view text) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  int value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

void mask_host_bits(Cidr& net) {
  for (std::size_t i = 0; i < net.addr.size(); ++i) {
    int bits = net.prefix - static_cast<int>(i) * 8;
    if (bits >= 8) continue;
    net.addr[i] &= bits <= 0 ? 0 : static_cast<std::uint8_t>(0xff << (8 - bits));
  }
}

}  // namespace

std::optional<Cidr> parse_cidr(std::string_view text) {
  text = trim(text);
  auto slash = text.find('/');
  std::string_view addr_text = text.substr(0, slash);
  auto bytes = address_bytes(addr_text, false);
  if (!bytes) return std::nullopt;
  Cidr net{*bytes, static_cast<int>(bytes->size() * 8)};
  if (slash != std::string_view::npos) {
    auto prefix = parse_prefix(text.substr(slash + 1));
    // A mapped network's prefix counts the 96 bits of ::ffff:0:0/96 in front of the v4 part.
    int offset = is_v4_mapped_text(addr_text) ? 96 : 0;
    if (!prefix || *prefix < offset || *prefix - offset > net.prefix) return std::nullopt;
    net.prefix = *prefix - offset;
  }
  mask_host_bits(net);
  return net;
}

bool cidr_contains(const Cidr& net, const std::string& ip_address) {
  auto bytes = address_bytes(ip_address, true);
  if (!bytes || bytes->size() != net.addr.size()) return false;
  for (std::size_t i = 0; i < bytes->size(); ++i) {
    int bits = net.prefix - static_cast<int>(i) * 8;
    if (bits <= 0) return true;
    std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if (((*bytes)[i] & mask) != net.addr[i]) return false;
  }
  return true;
}

}  // namespace sb::agent
