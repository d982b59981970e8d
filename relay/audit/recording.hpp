// One shell recording in asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a
// header line, then one JSON array per event, [seconds, "o"|"i"|"r"|"m", "text"]. Terminal
// bytes become JSON (UTF-8) strings: a character split across two reads is carried to the next
// chunk, and only invalid bytes become U+FFFD. This is the recorder thread's side: it does disk
// I/O and is never used on a reactor.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/util.hpp"

namespace sb::relay::rec {

struct Header {
  int width = 80, height = 24;
  std::int64_t timestamp = 0;  // UNIX seconds at the start
  std::string term = "xterm";
  std::string title;
};

std::string header_line(const Header& header);
// [seconds, "code", "text"] and a newline; invalid UTF-8 in text becomes U+FFFD.
std::string event_line(double seconds, std::string_view code, std::string_view text);
std::string resize_line(double seconds, int cols, int rows);

// Holds back an incomplete UTF-8 sequence at the end of a chunk for the next chunk.
class Utf8Carry {
 public:
  // The carried bytes and chunk, minus an incomplete sequence at its end (kept for next time).
  std::string take(std::string_view chunk);
  // Whatever is still held back (at the end of the stream).
  std::string rest();

 private:
  std::string carry_;
};

// A recording file: created 0600 (never overwriting one), written through a buffer that the
// owner flushes (at least every second, and at close). The file never grows past max_bytes:
// an event that would cross the line is replaced by a final marker event and the file is
// closed for writing (truncated()). A write the disk refuses throws std::system_error (its
// code the errno) and leaves the file cut at its last whole line.
class CastFile {
 public:
  // Throws std::system_error naming the path if the file cannot be created or its header not
  // written (the file is then removed: no empty recording is left behind).
  CastFile(const std::filesystem::path& path, std::uint64_t max_bytes, const Header& header);
  ~CastFile();
  CastFile(const CastFile&) = delete;
  CastFile& operator=(const CastFile&) = delete;

  // Each returns false once the size cap has been reached (nothing more is written).
  bool output(double seconds, std::string_view bytes);
  bool input(double seconds, std::string_view bytes);
  bool resize(double seconds, int cols, int rows);
  bool marker(double seconds, std::string_view label);
  // Writes the buffer to the file (no fsync: the kernel has it, readers see it).
  void flush();
  // Flushes held-back bytes and the buffer, then closes the file. Idempotent.
  void close(double seconds);

  std::uint64_t bytes() const { return bytes_; }
  bool truncated() const { return truncated_; }

 private:
  bool append(const std::string& line, double seconds);
  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t max_bytes_;
  std::uint64_t bytes_ = 0;    // written or buffered
  std::uint64_t on_disk_ = 0;  // written by the flushes that completed
  std::string buffer_;
  Utf8Carry out_, in_;
  bool truncated_ = false;
};

// Reads a recording line by line (bounded memory whatever the file): the header, then the
// events. Anything malformed throws std::runtime_error naming the file and the line. The header
// has integer width and height (0-65535), and timestamp and title only as integer and string.
class CastReader {
 public:
  static constexpr std::size_t kMaxLine = 4 * 1024 * 1024;
  // Events later than this (about 31 years) are refused as malformed.
  static constexpr double kMaxSeconds = 1e9;
  struct Event {
    double seconds;
    std::string code;  // "o", "i", "r", "m", ...
    std::string data;
  };
  explicit CastReader(const std::filesystem::path& file);
  const nlohmann::json& header() const { return header_; }
  std::optional<Event> next();

 private:
  std::optional<std::string> next_line();
  [[noreturn]] void fail(const std::string& why) const;
  std::filesystem::path file_;
  std::ifstream in_;
  LineBuffer lines_{kMaxLine};
  std::size_t line_no_ = 0;
  nlohmann::json header_;
};

// The marker written when a recording reaches its size cap.
inline constexpr std::string_view kSizeCapMarker =
    "switchboard: recording stopped here, size limit reached";

}  // namespace sb::relay::rec
