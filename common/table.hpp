// Plain-text tables for the admin verbs and the relay user's queries: a header row, columns padded
// to the widest cell.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace sb {

// The cell as it is safe to print: control characters (C0, DEL, C1) from the network become '?',
// so a hostile hostname or command cannot drive the admin's terminal.
std::string printable(const std::string& cell);

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row);
  bool empty() const { return rows_.empty(); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace sb
