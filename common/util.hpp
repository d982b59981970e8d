// Small, dependency-free helpers shared by every binary: randomness, session IDs, durations,
// times, bounded JSON lines and private files. Each one validates its input where it enters.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sb {

// CSPRNG (getrandom(2)); throws std::system_error on failure.
void random_bytes(std::span<std::uint8_t> out);
// Uniform in [0, bound) without modulo bias.
std::uint64_t random_below(std::uint64_t bound);

// Session IDs: nine digits, first digit non-zero so the spoken form always has nine.
constexpr std::size_t kSessionIdDigits = 9;
std::string generate_session_id();
// Accepts "482913075", "482 913 075", "482-913-075"; nullopt for anything else.
std::optional<std::string> parse_session_id(std::string_view text);
// "482913075" -> "482 913 075".
std::string format_session_id(std::string_view id);

// "500ms", "30s", "2m", "1h", "90d", "2w", "1h30m". nullopt if malformed, zero or absurd (> 10
// years).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// Human form: "450ms", "12s", "3m05s", "2h10m", "4d3h".
std::string format_duration(std::chrono::milliseconds d);

// "2026-11-22T03:23:27.123Z" (UTC, millisecond precision, sorts as text).
std::string iso8601_utc(std::chrono::system_clock::time_point t);
std::string now_iso8601();
std::optional<std::chrono::system_clock::time_point> parse_iso8601_utc(std::string_view text);

// Splits a byte stream into lines, refusing any line longer than max_line bytes.
class LineBuffer {
 public:
  explicit LineBuffer(std::size_t max_line) : max_line_(max_line) {}
  // False once a line (complete or still open) exceeds max_line; the buffer is then unusable.
  bool append(std::string_view data);
  // Next complete line without its '\n' (a trailing '\r' is removed too).
  std::optional<std::string> next_line();
  bool overflowed() const { return overflowed_; }
  std::size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::size_t max_line_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t open_len_ = 0;  // bytes of the unterminated last line, already length-checked
  bool overflowed_ = false;
};

// Creates dir (mode 0700) if missing; throws std::runtime_error with a clear message if it
// exists but is not a directory, is not owned by the effective user, or is group/world writable.
void ensure_private_dir(const std::filesystem::path& dir);
// Writes via a temporary file + fsync + rename, with the given mode.
void write_file_atomic(const std::filesystem::path& file, std::string_view content,
                       unsigned mode = 0600);
// Reads at most max_bytes; throws std::runtime_error if larger or unreadable.
std::string read_file_bounded(const std::filesystem::path& file, std::size_t max_bytes);

}  // namespace sb
