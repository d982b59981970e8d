// Trust-on-first-use pins of relay host keys, one "host:port SHA256:..." line per relay.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/util.hpp"
#include "keys/keys.hpp"

namespace sb::keys {

namespace {

constexpr std::size_t kMaxPinFile = 1024 * 1024;
constexpr std::size_t kMaxHostPort = 300;  // a 253-byte DNS name, brackets, ':' and a port

bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value >= 1 && value <= 65535;
}

// The key of a pin line: printable, no blanks, not a comment, ending in ":port".
bool valid_host_port(std::string_view hp) {
  if (hp.empty() || hp.size() > kMaxHostPort || hp.front() == '#') return false;
  for (char c : hp) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  const std::size_t colon = hp.rfind(':');
  return colon != std::string_view::npos && colon > 0 && valid_port(hp.substr(colon + 1));
}

std::string_view trim_pin_field(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

struct PinLine {
  std::string_view host_port;
  std::string_view fingerprint;
};

// nullopt for blank and comment lines; throws on anything else that is not a pin.
std::optional<PinLine> parse_pin_line(std::string_view line, const std::filesystem::path& file,
                                      std::size_t line_no) {
  line = trim_pin_field(line);
  if (line.empty() || line.front() == '#') return std::nullopt;
  const std::size_t sep = line.find_first_of(" \t");
  if (sep != std::string_view::npos) {
    PinLine pin{line.substr(0, sep), trim_pin_field(line.substr(sep + 1))};
    if (valid_host_port(pin.host_port) && looks_like_fingerprint(pin.fingerprint)) return pin;
  }
  // A damaged trust file must not silently turn into "first use" for some relay.
  throw std::runtime_error("pin file " + file.string() + " line " + std::to_string(line_no) +
                           ": expected 'HOST:PORT SHA256:...'");
}

std::string read_pins(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.string().c_str(), &st) != 0) {
    if (errno == ENOENT) return "";
    throw std::runtime_error("cannot stat pin file " + file.string() + ": " + std::strerror(errno));
  }
  return read_file_bounded(file, kMaxPinFile);
}

}  // namespace

PinCheck check_and_pin_host(const std::filesystem::path& pin_file, std::string_view host_port,
                            std::string_view fingerprint) {
  if (!valid_host_port(host_port)) {
    throw std::invalid_argument("not a host:port for pinning: '" + std::string(host_port) + "'");
  }
  if (!looks_like_fingerprint(fingerprint)) {
    throw std::invalid_argument("not a SHA256 fingerprint: '" + std::string(fingerprint) + "'");
  }
  std::string content = read_pins(pin_file);
  std::size_t line_no = 0;
  for (std::size_t start = 0; start < content.size();) {
    std::size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    auto pin =
        parse_pin_line(std::string_view(content).substr(start, end - start), pin_file, ++line_no);
    start = end + 1;
    if (!pin || pin->host_port != host_port) continue;
    if (pin->fingerprint == fingerprint) return {PinResult::kMatch, std::string(fingerprint)};
    return {PinResult::kMismatch, std::string(pin->fingerprint)};
  }
  if (!content.empty() && content.back() != '\n') content += '\n';
  content += std::string(host_port) + " " + std::string(fingerprint) + "\n";
  if (content.size() > kMaxPinFile) {
    throw std::runtime_error("pin file " + pin_file.string() + " is full (limit " +
                             std::to_string(kMaxPinFile) + " bytes)");
  }
  write_file_atomic(pin_file, content, 0600);
  return {PinResult::kFirstUse, std::string(fingerprint)};
}

}  // namespace sb::keys
