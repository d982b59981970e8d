#include "relay/audit/recording.hpp"

#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace sb::relay::rec {

namespace {

constexpr std::size_t kFlushAt = 64 * 1024;  // buffered bytes that trigger a write

std::string json_string(std::string_view text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// How many bytes the UTF-8 sequence starting with this lead byte has; 0 if it is no lead byte
// of a multi-byte sequence (ASCII, a continuation byte or a byte never valid in UTF-8).
std::size_t sequence_length(unsigned char lead) {
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

}  // namespace

std::string header_line(const Header& header) {
  nlohmann::ordered_json h;
  h["version"] = 2;
  h["width"] = header.width;
  h["height"] = header.height;
  h["timestamp"] = header.timestamp;
  h["env"] = {{"TERM", header.term}};
  h["title"] = header.title;
  return h.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string event_line(double seconds, std::string_view code, std::string_view text) {
  return fmt::format("[{:.6f}, {}, {}]\n", seconds, json_string(code), json_string(text));
}

std::string resize_line(double seconds, int cols, int rows) {
  return event_line(seconds, "r", fmt::format("{}x{}", cols, rows));
}

std::string Utf8Carry::take(std::string_view chunk) {
  std::string text = std::move(carry_);
  carry_.clear();
  text.append(chunk);
  // An incomplete sequence can only be in the last 3 bytes: find its lead byte.
  std::size_t end = text.size();
  for (std::size_t back = 1; back <= 3 && back <= end; ++back) {
    auto c = static_cast<unsigned char>(text[end - back]);
    if (is_continuation(c)) continue;
    std::size_t need = sequence_length(c);
    if (need > back) {
      carry_ = text.substr(end - back);
      text.resize(end - back);
    }
    break;
  }
  return text;
}

std::string Utf8Carry::rest() {
  return std::exchange(carry_, {});
}

CastFile::CastFile(const std::filesystem::path& path, std::uint64_t max_bytes, const Header& header)
    : path_(path), max_bytes_(max_bytes) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw std::system_error(errno, std::generic_category(), "cannot create " + path.string());
  ::fchmod(fd_, 0600);  // whatever the umask
  buffer_ = header_line(header);
  bytes_ = buffer_.size();
  try {
    flush();
  } catch (...) {
    // No destructor runs for a constructor that throws; and a file without even its header
    // (a full disk) is no recording: it is not left behind.
    ::close(std::exchange(fd_, -1));
    ::unlink(path.c_str());
    throw;
  }
}

CastFile::~CastFile() {
  if (fd_ < 0) return;
  try {
    flush();
  } catch (const std::exception&) {
    // Already reported by an earlier write; a destructor cannot do more.
  }
  ::close(fd_);
}

bool CastFile::append(const std::string& line, double seconds) {
  if (truncated_ || fd_ < 0) return false;
  std::string marker_line = event_line(seconds, "m", kSizeCapMarker);
  if (bytes_ + line.size() + marker_line.size() > max_bytes_) {
    buffer_ += marker_line;
    bytes_ += marker_line.size();
    truncated_ = true;
    flush();
    return false;
  }
  buffer_ += line;
  bytes_ += line.size();
  if (buffer_.size() >= kFlushAt) flush();
  return true;
}

bool CastFile::output(double seconds, std::string_view bytes) {
  if (truncated_) return false;
  std::string text = out_.take(bytes);
  return text.empty() || append(event_line(seconds, "o", text), seconds);
}

bool CastFile::input(double seconds, std::string_view bytes) {
  if (truncated_) return false;
  std::string text = in_.take(bytes);
  return text.empty() || append(event_line(seconds, "i", text), seconds);
}

bool CastFile::resize(double seconds, int cols, int rows) {
  return append(resize_line(seconds, cols, rows), seconds);
}

bool CastFile::marker(double seconds, std::string_view label) {
  return append(event_line(seconds, "m", label), seconds);
}

void CastFile::flush() {
  std::string_view rest = buffer_;
  while (!rest.empty() && fd_ >= 0) {
    ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      // Part of a line may have made it (a disk filling up): cut the file back to the last
      // whole line, so that what is kept still replays.
      if (::ftruncate(fd_, static_cast<off_t>(on_disk_)) != 0) {
        spdlog::warn("recording {}: cannot cut a partial line: {}", path_.string(),
                     std::strerror(errno));
      }
      buffer_.clear();
      bytes_ = on_disk_;
      throw std::system_error(err, std::generic_category(), "cannot write " + path_.string());
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  on_disk_ += buffer_.size();
  buffer_.clear();
}

void CastFile::close(double seconds) {
  if (fd_ < 0) return;
  // Bytes held back for a character that never completed: written now (as U+FFFD).
  if (std::string rest = out_.rest(); !rest.empty())
    append(event_line(seconds, "o", rest), seconds);
  if (std::string rest = in_.rest(); !rest.empty()) append(event_line(seconds, "i", rest), seconds);
  try {
    flush();
  } catch (...) {
    ::close(std::exchange(fd_, -1));
    throw;
  }
  ::close(std::exchange(fd_, -1));
}

namespace {
// A terminal size in the header: an integer a terminal could have.
bool size_field(const nlohmann::json& header, const char* key) {
  auto it = header.find(key);
  if (it == header.end() || !it->is_number_integer()) return false;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>() <= 65535;
  auto value = it->get<std::int64_t>();
  return value >= 0 && value <= 65535;
}
}  // namespace

CastReader::CastReader(const std::filesystem::path& file) : file_(file) {
  in_.open(file, std::ios::binary);
  if (!in_) throw std::runtime_error("cannot open " + file.string() + ": " + std::strerror(errno));
  auto line = next_line();
  if (!line) fail("empty file, not an asciicast recording");
  header_ = nlohmann::json::parse(*line, nullptr, false);
  if (!header_.is_object() || header_["version"] != 2)
    fail("not an asciicast v2 header (expected {\"version\": 2, ...})");
  if (!size_field(header_, "width") || !size_field(header_, "height"))
    fail("the header has no integer width and height");
  // Readers take these with json::value(): a member of another type would throw there.
  if (header_.contains("timestamp") && !header_["timestamp"].is_number_integer())
    fail("the header's timestamp is not an integer");
  if (header_.contains("title") && !header_["title"].is_string())
    fail("the header's title is not a string");
}

void CastReader::fail(const std::string& why) const {
  throw std::runtime_error(file_.string() + " line " + std::to_string(line_no_) + ": " + why);
}

std::optional<std::string> CastReader::next_line() {
  for (;;) {
    if (auto line = lines_.next_line()) {
      ++line_no_;
      return line;
    }
    if (lines_.overflowed()) fail("line longer than " + std::to_string(kMaxLine) + " bytes");
    if (!in_) {
      if (lines_.buffered() == 0) return std::nullopt;
      lines_.append("\n");  // a last line without its newline (a recording cut short)
      continue;
    }
    char buf[64 * 1024];
    in_.read(buf, sizeof buf);
    if (in_.bad()) fail(std::string("read error: ") + std::strerror(errno));
    if (!lines_.append({buf, static_cast<std::size_t>(in_.gcount())}))
      fail("line longer than " + std::to_string(kMaxLine) + " bytes");
  }
}

std::optional<CastReader::Event> CastReader::next() {
  for (;;) {
    auto line = next_line();
    if (!line) return std::nullopt;
    if (line->empty()) continue;
    auto event = nlohmann::json::parse(*line, nullptr, false);
    if (!event.is_array() || event.size() != 3 || !event[0].is_number() || !event[1].is_string() ||
        !event[2].is_string())
      fail("not an event (expected [seconds, \"code\", \"data\"])");
    double seconds = event[0].get<double>();
    if (!(seconds >= 0)) fail("negative time");
    // Readers turn times into integer milliseconds and clock durations: keep them in range.
    if (!(seconds <= kMaxSeconds)) fail("time out of range");
    return Event{seconds, event[1].get<std::string>(), event[2].get<std::string>()};
  }
}

}  // namespace sb::relay::rec
