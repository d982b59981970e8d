// Names the files of an SFTP session for the audit, from what the operator's client sends
// (SFTP version 3, the protocol OpenSSH's sftp, scp and sftp-server speak). Only the requests
// that name a file to read, write or change are kept: open (read or write), remove, rename,
// mkdir, rmdir, symlink and OpenSSH's posix-rename and hardlink. Listings, stat calls and the
// data itself are skipped without being copied.
//
// Cheap and bounded: fed with the stream as the relay moves it (any chunking), it copies only
// the first bytes of the requests it names (at most kMaxCapture), skips the rest of every packet
// by its length, keeps at most kMaxEntries names of at most kMaxPathBytes each and counts the
// others. A stream that is not SFTP (a packet length of 0 or over kMaxPacket) stops the parsing
// for good; the bytes keep flowing, the audit says the names are incomplete.
#pragma once
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace sb::relay {

class SftpRequestLog {
 public:
  static constexpr std::size_t kMaxEntries = 64;
  // Of a name as stored: escaped (escape_log_text), then cut with a trailing "…".
  static constexpr std::size_t kMaxPathBytes = 512;
  // OpenSSH's sftp-server refuses packets over 256 KiB (SFTP_MAX_MSG_LENGTH).
  static constexpr std::uint32_t kMaxPacket = 256 * 1024;
  // Bytes of a named request looked at: request id, an extension name and two paths of up to
  // 4 KiB (PATH_MAX). A longer name is cut.
  static constexpr std::size_t kMaxCapture = 4 + (4 + 64) + 2 * (4 + 4096) + 4;

  struct Entry {
    std::string op;    // read, write, open, remove, rename, mkdir, rmdir, symlink, hardlink
    std::string path;  // escaped, bounded
    std::string to;    // rename, symlink and hardlink: the second path
    bool operator==(const Entry&) const = default;
  };

  void feed(std::string_view data);

  const std::vector<Entry>& entries() const { return entries_; }
  // Named requests past kMaxEntries (counted, not kept).
  std::uint64_t more() const { return more_; }
  // The stream stopped looking like SFTP: nothing after that point is named.
  bool gave_up() const { return state_ == State::kGaveUp; }
  // {"files": [{"op", "path"[, "to"]}...], "files_more": N, "files_incomplete": true}, the
  // last two only when they apply; an empty object when nothing was named.
  nlohmann::json to_json() const;

 private:
  enum class State { kLength, kType, kCapture, kSkip, kGaveUp };
  void on_packet_start(std::uint8_t type);
  void on_captured();
  void add(std::string op, std::string_view path, std::string_view to = {});

  State state_ = State::kLength;
  std::uint32_t length_ = 0;      // of the current packet, its type byte included
  std::size_t length_bytes_ = 0;  // of the 4-byte length read so far
  std::uint32_t remaining_ = 0;   // of the current packet after its type byte
  std::uint8_t type_ = 0;
  std::size_t capture_want_ = 0;  // bytes of the current packet to copy into capture_
  std::string capture_;
  std::vector<Entry> entries_;
  std::uint64_t more_ = 0;
};

}  // namespace sb::relay
