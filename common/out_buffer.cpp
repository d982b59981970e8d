#include "common/out_buffer.hpp"

#include <algorithm>

namespace sb {

bool OutBuffer::append(std::string_view data) {
  if (data.size() > room()) return false;
  if (begin_ > 0 && begin_ >= buf_.size() / 2) {
    buf_.erase(0, begin_);
    begin_ = 0;
  }
  buf_.append(data);
  return true;
}

void OutBuffer::consume(std::size_t n) {
  begin_ += std::min(n, size());
  if (begin_ == buf_.size()) clear();
}

void OutBuffer::clear() {
  buf_.clear();
  begin_ = 0;
}

}  // namespace sb
