// Bytes waiting to be sent, with a cap. Writers take what the peer accepts from the front:
// consume() only moves an offset, and the storage is compacted when the consumed part is at
// least half of it, so a byte is moved at most once on average however short the writes are
// (erasing the front of a string per partial write moves the whole rest every time).
#pragma once
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace sb {

class OutBuffer {
 public:
  explicit OutBuffer(std::size_t cap = std::numeric_limits<std::size_t>::max()) : cap_(cap) {}

  // Appends all of data, or nothing (false) if that would take the buffer past its cap.
  bool append(std::string_view data);
  // What is waiting, oldest first.
  std::string_view data() const { return std::string_view(buf_).substr(begin_); }
  // Drops the first n waiting bytes (n is clamped to size()).
  void consume(std::size_t n);
  void clear();

  std::size_t size() const { return buf_.size() - begin_; }
  bool empty() const { return size() == 0; }
  std::size_t cap() const { return cap_; }
  std::size_t room() const { return cap_ - size(); }

 private:
  std::string buf_;
  std::size_t begin_ = 0;  // bytes already consumed at the front of buf_
  std::size_t cap_;
};

}  // namespace sb
