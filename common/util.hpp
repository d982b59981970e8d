// Small, dependency-free helpers shared by every binary: randomness, session IDs, bounded JSON
// lines, sizes and private files. Each one validates its input where it enters. Times and
// durations are in common/time.hpp (included here for the many callers that use both).
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/time.hpp"

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

// "512 B", "1.2 KiB", "3.4 MiB", "1.0 GiB", "2.5 TiB" (powers of 1024).
std::string format_bytes(std::uint64_t bytes);

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
// A fresh hidden name beside file, for write_file_atomic's temporary: in the same directory so
// that the rename cannot cross file systems.
std::filesystem::path temp_name_for(const std::filesystem::path& file);
// Reads at most max_bytes; throws std::runtime_error if larger or unreadable.
std::string read_file_bounded(const std::filesystem::path& file, std::size_t max_bytes);

}  // namespace sb
