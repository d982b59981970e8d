#include "common/table.hpp"

#include <algorithm>

namespace sb {

namespace {
// Display width, counting UTF-8 continuation bytes as nothing.
std::size_t width(const std::string& cell) {
  return static_cast<std::size_t>(
      std::count_if(cell.begin(), cell.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}
}  // namespace

std::string printable(const std::string& cell) {
  std::string out;
  out.reserve(cell.size());
  for (std::size_t i = 0; i < cell.size(); ++i) {
    auto u = static_cast<unsigned char>(cell[i]);
    auto next = i + 1 < cell.size() ? static_cast<unsigned char>(cell[i + 1]) : 0;
    if (u == 0xC2 && next >= 0x80 && next <= 0x9F) {  // C1 control, e.g. CSI (U+009B)
      out += '?';
      ++i;
    } else {
      out += (u < 0x20 || u == 0x7f) ? '?' : cell[i];
    }
  }
  return out;
}

void Table::add(std::vector<std::string> row) {
  row.resize(header_.size());
  for (auto& cell : row) cell = printable(std::move(cell));
  rows_.push_back(std::move(row));
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> widths;
  for (const auto& h : header_) widths.push_back(width(h));
  for (const auto& row : rows_)
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      text += cells[i];
      if (i + 1 < cells.size()) text.append(widths[i] - width(cells[i]) + 2, ' ');
    }
    out << text << '\n';
  };
  line(header_);
  for (const auto& row : rows_) line(row);
}

}  // namespace sb
