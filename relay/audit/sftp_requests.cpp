#include "relay/audit/sftp_requests.hpp"

#include <algorithm>
#include <optional>

#include "common/logging.hpp"

namespace sb::relay {

namespace {

// SFTP version 3 request types (draft-ietf-secsh-filexfer-02), the named ones only.
enum : std::uint8_t {
  kOpen = 3,
  kRemove = 13,
  kMkdir = 14,
  kRmdir = 15,
  kRename = 18,
  kSymlink = 20,
  kExtended = 200,
};
constexpr std::uint32_t kFlagRead = 0x1, kFlagWrite = 0x2;

bool named(std::uint8_t type) {
  switch (type) {
    case kOpen:
    case kRemove:
    case kMkdir:
    case kRmdir:
    case kRename:
    case kSymlink:
    case kExtended:
      return true;
    default:
      return false;
  }
}

// Reads the fields of a captured request; a field cut by the capture's end is taken as far as
// it goes (a string) or missing (a number).
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::optional<std::uint32_t> u32() {
    if (data_.size() < 4) {
      data_ = {};
      return std::nullopt;
    }
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(data_[i]);
    data_.remove_prefix(4);
    return v;
  }
  std::optional<std::string_view> string() {
    auto length = u32();
    if (!length) return std::nullopt;
    std::string_view s = data_.substr(0, *length);
    data_.remove_prefix(s.size());
    return s;
  }

 private:
  std::string_view data_;
};

std::string bounded_name(std::string_view raw) {
  std::string text = escape_log_text(raw);
  if (text.size() <= SftpRequestLog::kMaxPathBytes) return text;
  const std::string_view ellipsis = "…";
  std::size_t cut = SftpRequestLog::kMaxPathBytes - ellipsis.size();
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  text.resize(cut);
  return text + std::string(ellipsis);
}

}  // namespace

void SftpRequestLog::feed(std::string_view data) {
  while (!data.empty() && state_ != State::kGaveUp) {
    switch (state_) {
      case State::kLength:
        length_ = (length_ << 8) | static_cast<unsigned char>(data.front());
        data.remove_prefix(1);
        if (++length_bytes_ < 4) break;
        length_bytes_ = 0;
        if (length_ == 0 || length_ > kMaxPacket) {
          state_ = State::kGaveUp;
          break;
        }
        state_ = State::kType;
        break;
      case State::kType:
        on_packet_start(static_cast<std::uint8_t>(data.front()));
        data.remove_prefix(1);
        break;
      case State::kCapture: {
        std::size_t n = std::min(data.size(), capture_want_ - capture_.size());
        capture_.append(data.substr(0, n));
        data.remove_prefix(n);
        remaining_ -= static_cast<std::uint32_t>(n);
        if (capture_.size() == capture_want_) on_captured();
        break;
      }
      case State::kSkip: {
        std::size_t n = std::min<std::size_t>(data.size(), remaining_);
        data.remove_prefix(n);
        remaining_ -= static_cast<std::uint32_t>(n);
        if (remaining_ == 0) state_ = State::kLength;
        break;
      }
      case State::kGaveUp:
        break;
    }
  }
}

void SftpRequestLog::on_packet_start(std::uint8_t type) {
  type_ = type;
  remaining_ = length_ - 1;
  length_ = 0;
  if (remaining_ == 0) {
    state_ = State::kLength;
    return;
  }
  if (!named(type)) {
    state_ = State::kSkip;
    return;
  }
  capture_.clear();
  capture_want_ = std::min<std::size_t>(remaining_, kMaxCapture);
  state_ = State::kCapture;
}

void SftpRequestLog::on_captured() {
  Reader r(capture_);
  r.u32();  // request id
  auto first = r.string();
  if (type_ == kExtended) {
    // The extension's name, then its own fields.
    const std::string_view extension = first.value_or("");
    auto from = r.string();
    auto to = r.string();
    if (extension == "posix-rename@openssh.com" && from)
      add("rename", *from, to.value_or(""));
    else if (extension == "hardlink@openssh.com" && from)
      add("hardlink", *from, to.value_or(""));
  } else if (first) {
    switch (type_) {
      case kOpen: {
        auto flags = r.u32();
        add(!flags                ? "open"
            : *flags & kFlagWrite ? "write"
            : *flags & kFlagRead  ? "read"
                                  : "open",
            *first);
        break;
      }
      case kRemove:
        add("remove", *first);
        break;
      case kMkdir:
        add("mkdir", *first);
        break;
      case kRmdir:
        add("rmdir", *first);
        break;
      case kRename:
        add("rename", *first, r.string().value_or(""));
        break;
      case kSymlink: {
        // OpenSSH sends the link's target first, then the link (the draft's order swapped).
        auto link = r.string();
        add("symlink", link.value_or(""), *first);
        break;
      }
      default:
        break;
    }
  }
  capture_.clear();
  if (capture_.capacity() > 4096) capture_.shrink_to_fit();  // an odd long name: give it back
  state_ = remaining_ == 0 ? State::kLength : State::kSkip;
}

void SftpRequestLog::add(std::string op, std::string_view path, std::string_view to) {
  if (entries_.size() >= kMaxEntries) {
    ++more_;
    return;
  }
  Entry entry{std::move(op), bounded_name(path), to.empty() ? "" : bounded_name(to)};
  entries_.push_back(std::move(entry));
}

nlohmann::json SftpRequestLog::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  if (entries_.empty() && more_ == 0 && !gave_up()) return out;
  nlohmann::json files = nlohmann::json::array();
  for (const Entry& e : entries_) {
    nlohmann::json item{{"op", e.op}, {"path", e.path}};
    if (!e.to.empty()) item["to"] = e.to;
    files.push_back(std::move(item));
  }
  out["files"] = std::move(files);
  if (more_ > 0) out["files_more"] = more_;
  if (gave_up()) out["files_incomplete"] = true;
  return out;
}

}  // namespace sb::relay
