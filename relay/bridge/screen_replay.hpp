// The recent output of a shared terminal: what a late joiner sees first, and what a session
// held through a network blip keeps for the operators who come back after the device resumed.
// Bounded: recent() is at most kBytes; the buffer itself never holds more than twice that.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace sb::relay {

class ScreenReplay {
 public:
  static constexpr std::size_t kBytes = 64 * 1024;

  void append(std::string_view data) {
    buffer_.append(data);
    // Trimmed only once it holds twice the replay: shifting 64 KiB for every chunk of output
    // cost more than the output itself.
    if (buffer_.size() > 2 * kBytes) buffer_.erase(0, buffer_.size() - kBytes);
  }
  // The last kBytes of what was appended.
  std::string recent() const {
    return buffer_.size() > kBytes ? buffer_.substr(buffer_.size() - kBytes) : buffer_;
  }
  bool empty() const { return buffer_.empty(); }
  // Bytes held now (at most 2 x kBytes).
  std::size_t held() const { return buffer_.size(); }

 private:
  std::string buffer_;
};

}  // namespace sb::relay
