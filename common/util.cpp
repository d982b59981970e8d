// Randomness, session IDs, line splitting and sizes. Durations and times are in time.cpp,
// private files in util_files.cpp.
#include "common/util.hpp"

#ifdef _WIN32
#include <windows.h>
// windows.h first
#include <bcrypt.h>
#else
#include <sys/random.h>
#endif

#include <array>
#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <system_error>

namespace sb {

#ifdef _WIN32
void random_bytes(std::span<std::uint8_t> out) {
  // The system's preferred generator (no algorithm handle to open or leak).
  if (!BCRYPT_SUCCESS(::BCryptGenRandom(nullptr, out.data(), static_cast<ULONG>(out.size()),
                                        BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
    throw std::runtime_error("BCryptGenRandom failed");
}
#else
void random_bytes(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    // getrandom may return fewer bytes than asked (signals, requests > 256 bytes).
    ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    done += static_cast<std::size_t>(n);
  }
}
#endif

std::uint64_t random_below(std::uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("random_below: bound must be positive");
  // Values below `reject` would make the low residues more likely; 2^64 mod bound of them.
  const std::uint64_t reject = (0 - bound) % bound;
  for (;;) {
    std::uint64_t x = 0;
    random_bytes({reinterpret_cast<std::uint8_t*>(&x), sizeof x});
    if (x >= reject) return x % bound;
  }
}

std::filesystem::path temp_name_for(const std::filesystem::path& file) {
  std::uint8_t rnd[8];
  random_bytes(rnd);
  std::string suffix;
  for (std::uint8_t b : rnd) {
    static constexpr char kHex[] = "0123456789abcdef";
    suffix += kHex[b >> 4];
    suffix += kHex[b & 15];
  }
  return file.parent_path() / ("." + file.filename().string() + ".tmp-" + suffix);
}

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_session_id(std::string_view s) {
  if (s.size() != kSessionIdDigits || s[0] == '0') return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

}  // namespace

std::string generate_session_id() {
  std::string id;
  id.reserve(kSessionIdDigits);
  id.push_back(static_cast<char>('1' + random_below(9)));
  while (id.size() < kSessionIdDigits) id.push_back(static_cast<char>('0' + random_below(10)));
  return id;
}

std::optional<std::string> parse_session_id(std::string_view text) {
  constexpr std::size_t kMaxInput = 64;  // generous for separators, small enough to not care
  if (text.size() > kMaxInput) return std::nullopt;
  std::string id;
  for (char c : text) {
    if (c == ' ' || c == '-') continue;
    if (!is_digit(c) || id.size() == kSessionIdDigits) return std::nullopt;
    id.push_back(c);
  }
  if (!is_session_id(id)) return std::nullopt;
  return id;
}

std::string format_session_id(std::string_view id) {
  // Display helper: anything that is not a session ID is shown as it is rather than mangled.
  if (!is_session_id(id)) return std::string(id);
  std::string out;
  out.reserve(kSessionIdDigits + 2);
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i > 0 && i % 3 == 0) out.push_back(' ');
    out.push_back(id[i]);
  }
  return out;
}

namespace {

// A line of exactly max_line bytes may still be followed by "\r\n", so one extra byte is
// allowed while it is the '\r' that next_line() will strip.
bool line_too_long(std::size_t len, char last, std::size_t max_line) {
  return len > max_line && (len - max_line > 1 || last != '\r');
}

}  // namespace

bool LineBuffer::append(std::string_view data) {
  if (overflowed_) return false;
  // Check before copying so an endless line never grows the buffer past max_line.
  std::size_t open = open_len_;
  char last = open > 0 ? buf_.back() : '\0';
  for (char c : data) {
    if (c == '\n') {
      open = 0;
      continue;
    }
    ++open;
    last = c;
    if (line_too_long(open, last, max_line_)) {
      overflowed_ = true;
      std::string().swap(buf_);
      pos_ = open_len_ = 0;
      return false;
    }
  }
  if (pos_ > buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data);
  open_len_ = open;
  return true;
}

std::optional<std::string> LineBuffer::next_line() {
  if (overflowed_) return std::nullopt;
  // Complete lines end before the open tail, so the tail is never rescanned for '\n'.
  const std::size_t complete_end = buf_.size() - open_len_;
  if (pos_ >= complete_end) return std::nullopt;
  const std::size_t nl = buf_.find('\n', pos_);
  std::size_t len = nl - pos_;
  if (len > 0 && buf_[nl - 1] == '\r') --len;
  std::string line = buf_.substr(pos_, len);
  pos_ = nl + 1;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return line;
}

std::string format_bytes(std::uint64_t bytes) {
  static constexpr std::array<const char*, 5> kUnits{"KiB", "MiB", "GiB", "TiB", "PiB"};
  char buf[32];
  if (bytes < 1024) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    return buf;
  }
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  // Round first, so 1023.96 KiB shows as "1.0 MiB", not "1024.0 KiB".
  while (value * 10.0 + 0.5 >= 1024.0 * 10.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  return buf;
}

}  // namespace sb
